// The serve stage: the only writer to the client. Validates, builds the ProxyRequest, runs the listener's stack, writes the
// response value, and sends every failure through the one rescue (HTTP status or gRPC status, x-skein-error, metric).
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { applyHeaderMutation } from '../http/hop-headers.ts';
import { isGrpcRequest, rescue, type DownstreamRequest, type DownstreamResponse } from '../http/http-rescue.ts';
import type { ListenerContext, ListenerSnapshot } from '../http/listener-context.ts';
import type { Http1Request, Http1Response } from '../http1/server-connection.ts';
import type { Http2Request } from '../http2/server-exchange.ts';
import { downstreamInfo } from './downstream-info.ts';
import { upstreamRequestHeaders } from './forwarding-headers.ts';
import { listenerStack } from './listener-stack.ts';
import { ProxyRequest } from './proxy-request.ts';
import type { ProxyResponse, ResponseBody, ResponseSink } from './proxy-response.ts';
import { RequestBody } from './request-body.ts';
import { headerString, requestTarget } from './request-target.ts';
import type { RequestObservation, RequestOutcome } from './stack-hooks.ts';
import { remoteOf } from '../telemetry/peer-labels.ts';

const DIGITS = /^[0-9]{1,15}$/;

/** A grpc-status header value as a number (a malformed one is UNKNOWN, as gRPC clients read it); -1 when absent. */
function grpcStatusOf(v: unknown): number {
  const s = headerString(v);
  if (s === undefined) return -1;
  const n = Number(s);
  return Number.isInteger(n) && n >= 0 && n <= 16 && s !== '' ? n : 2;
}

/** Handles one HTTP request end to end. Never throws: every failure goes through the rescue. */
export function serveHttp(ctx: ListenerContext, req: DownstreamRequest, res: DownstreamResponse): void {
  new Serve(ctx, req, res).run();
}

class Serve implements ResponseSink, RequestOutcome {
  readonly #ctx: ListenerContext;
  readonly #snap: ListenerSnapshot;
  readonly #req: DownstreamRequest;
  readonly #res: DownstreamResponse;
  readonly #startedAt: number;
  #preq: ProxyRequest | null = null;
  #body: ResponseBody | null = null;
  #finished = false;
  #observation: RequestObservation | null = null;
  // RequestOutcome, filled in as the answer goes out.
  code = 0;
  grpcStatus = -1;
  cause: string | null = null;
  responseBytes = 0;
  seconds = 0;

  constructor(ctx: ListenerContext, req: DownstreamRequest, res: DownstreamResponse) {
    this.#startedAt = performance.now();
    this.#ctx = ctx;
    this.#snap = ctx.snapshot();
    this.#req = req;
    this.#res = res;
    ctx.requestStarted();
    res.once('close', this.#onClose);
  }

  run(): void {
    const req = this.#req;
    const res = this.#res;
    const snap = this.#snap;
    const h2 = req.httpVersionMajor === 2;
    if (h2 && ('stream' in req ? req.stream.closed : (req as Http2Request).cancelled)) {
      // Reset by the client before we got to it (rapid reset, CVE-2023-44487): no upstream work for a stream nobody awaits.
      return this.#done(499);
    }
    if (this.#ctx.draining() && !h2) res.setHeader('connection', 'close');
    // An Upgrade we serve as plain HTTP/1.1 (h2c, anything but WebSocket): the client may send bytes of the protocol it
    // asked for right behind its request; close after this response so that they are never read as a request.
    else if (!h2 && req.headers.upgrade !== undefined) res.setHeader('connection', 'close');
    try {
      if (!h2 && (req as Http1Request).rawHeaders.length / 2 > snap.limits.maxHeaderCount) {
        return this.#fail(new ProxyError(ERRORS.headersTooLarge, 'too many headers'));
      }
      // Framing toward the upstream is regenerated as plain chunked, so any other transfer-coding (gzip, chunked) would be
      // silently lost: refuse it (RELIABILITY 1, TE variants) rather than forward a body the upstream cannot decode.
      const te = h2 ? undefined : req.headers['transfer-encoding'];
      if (te !== undefined && String(te).trim().toLowerCase() !== 'chunked') return this.#fail(new ProxyError(ERRORS.badRequest, 'unsupported transfer-coding'));
      const target = requestTarget(req, snap.listener.direction === 'ingress', snap.listener.tls?.listenerHostnames);
      if (target instanceof ProxyError) return this.#fail(target);
      const preq = this.#build(target[0], target[1]);
      this.#preq = preq;
      const observe = this.#ctx.hooks?.observe;
      if (observe != null) {
        try {
          this.#observation = observe.start(preq);
        } catch {
          // Telemetry never fails a request (OpenTelemetry's rule); the observer counts its own errors.
        }
      }
      listenerStack(snap, this.#ctx)(preq).then(this.#onResponse, this.#onError);
    } catch (e) {
      // Cannot happen in a correct proxy; answered as 500 rather than crashing the process.
      this.#fail(e);
    }
  }

  #build(authority: string, path: string): ProxyRequest {
    const req = this.#req;
    const downstream = downstreamInfo(req.socket, this.#snap);
    const headers = upstreamRequestHeaders(downstream.direction, req.headers, downstream.clientAddress, downstream.tls, downstream.peerIdentity, this.#snap.listener.xffTrustedHops ?? 0);
    // Our own framing toward the upstream: a Content-Length is regenerated from its parsed value (never `00043` verbatim).
    let length = -1;
    if (req.httpVersionMajor === 1) {
      const h1 = req as Http1Request;
      if (!h1.chunked && h1.contentLength >= 0) {
        length = h1.contentLength;
        headers['content-length'] = String(length);
      }
    } else {
      const cl = headers['content-length'];
      if (typeof cl === 'string' && DIGITS.test(cl)) headers['content-length'] = String((length = Number(cl)));
      else if (cl !== undefined) delete headers['content-length'];
    }
    const body = req.hasBody ? new RequestBody(req as Http1Request, length) : null;
    return new ProxyRequest(req.method ?? 'GET', authority, path, headers, body, downstream, isGrpcRequest(req), this.#startedAt, req.headers);
  }

  readonly #onResponse = (r: ProxyResponse): void => {
    const res = this.#res;
    if (res.destroyed || res.writableEnded) {
      r.body?.cancel();
      return;
    }
    const preq = this.#preq!;
    const route = preq.route;
    if (route !== null) applyHeaderMutation(r.headers, route.config.responseHeaders);
    // A trailers-only gRPC answer carries its status in the head.
    if (preq.grpc) this.grpcStatus = grpcStatusOf(r.headers['grpc-status'] ?? r.trailers?.['grpc-status']);
    if (!res.headersSent) (res as Http1Response).writeHead(r.status, r.headers);
    const body = r.body;
    if (body === null) {
      if (r.trailers !== null) res.addTrailers(r.trailers as Record<string, string>);
      res.end();
      return;
    }
    this.#body = body;
    body.start(this);
  };

  readonly #onError = (e: unknown): void => this.#fail(e);

  /** Made only when the client pushes back (most responses never need it). */
  #onDrain: (() => void) | null = null;

  readonly #onClose = (): void => {
    const res = this.#res;
    if (res.writableEnded || this.#finished) return this.#done(res.statusCode);
    // The client went away before the answer was complete: cancel whatever is still running for it. Recorded as the
    // client's doing (499 before an answer started), never as an upstream failure.
    this.#preq?.cancel();
    this.cause = ERRORS.clientCancelled.cause;
    this.#done(res.headersSent ? res.statusCode : ERRORS.clientCancelled.status);
  };

  // ResponseSink: the response body, written to the client with back-pressure.
  data(chunk: Buffer): boolean {
    this.responseBytes += chunk.length;
    const res = this.#res as Http1Response;
    if (res.write(chunk)) return true;
    res.once('drain', (this.#onDrain ??= () => this.#body?.resume()));
    return false;
  }

  end(trailers: Readonly<Record<string, string | string[]>> | null): void {
    if (trailers !== null) {
      const g = trailers['grpc-status'];
      if (g !== undefined && this.#preq?.grpc === true) this.grpcStatus = grpcStatusOf(g);
      this.#res.addTrailers(trailers);
    }
    this.#res.end();
  }

  error(e: ProxyError): void {
    this.#fail(e);
  }

  #fail(e: unknown): void {
    const res = this.#res;
    const sent = res.headersSent;
    const spec = rescue(this.#req, res, e);
    if (!this.#finished) {
      this.cause = spec.cause;
      // The status the rescue answered with (before the head went out, or in the trailers of a gRPC answer after it).
      if (isGrpcRequest(this.#req) && (!sent || this.#req.httpVersionMajor === 2)) this.grpcStatus = spec.grpcStatus;
    }
    // A client that went away is not an upstream failure: not counted as one.
    if (spec !== ERRORS.clientCancelled) this.#ctx.metrics.proxyError(this.#snap.listener.name, spec.cause);
    this.#done(sent ? res.statusCode : spec.status);
  }

  #done(code: number): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#ctx.requestFinished();
    this.code = code;
    this.seconds = (performance.now() - this.#startedAt) / 1000;
    const preq = this.#preq;
    if (preq === null) return;
    const recorder = preq.recorder;
    if (recorder !== null) {
      const remote = remoteOf(preq);
      recorder.record(remote.labels, code, this.grpcStatus, remote.mtls, this.seconds, preq.body?.received ?? 0, this.responseBytes);
    }
    const o = this.#observation;
    if (o !== null) {
      try {
        o.finish(preq, this);
      } catch {}
    }
  }

  get requestBytes(): number {
    return this.#preq?.body?.received ?? 0;
  }
}
