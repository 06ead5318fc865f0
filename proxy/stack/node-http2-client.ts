// The HTTP/2 client stage on node:http2 (the SKEIN_HTTP2_CLIENT=node fallback): one attempt as a stream on the endpoint's session.
import http2 from 'node:http2';
import { ERRORS, ProxyError, classifyUpstreamError } from '../errors/proxy-error.ts';
import { copyEndToEndHeaders, type HeaderBag } from '../http/hop-headers.ts';
import type { BodySink } from '../http1/server-connection.ts';
import type { EndpointHandle } from '../upstream/upstream-cluster.ts';
import type { ProxyRequest } from './proxy-request.ts';
import { ProxyResponse, type ResponseBody } from './proxy-response.ts';
import { ATTEMPT_HEADER, attemptCountValue } from './attempt-count.ts';
import { UpstreamAttempt } from './upstream-attempt.ts';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM } = http2.constants;

/** Sends `req` to `req.endpoint` as an HTTP/2 stream. */
export function nodeHttp2Client(req: ProxyRequest): Promise<ProxyResponse> {
  const headers = req.headers;
  headers[':method'] = req.method;
  headers[':path'] = req.path;
  headers[':authority'] = req.authority;
  headers[':scheme'] = 'http';
  if (req.grpc || headers.te !== undefined) headers.te = 'trailers';
  if (req.countsAttempts) headers[ATTEMPT_HEADER] = attemptCountValue(req.attempt);
  const endpoint = req.endpoint!;
  const body = req.body;
  let stream: http2.ClientHttp2Stream;
  try {
    stream = endpoint.nodeHttp2.request(headers as http2.OutgoingHttpHeaders, body === null);
  } catch (e) {
    return Promise.reject(classifyUpstreamError(e));
  }
  const x = new NodeHttp2Exchange(req, endpoint, stream);
  if (body !== null) {
    stream.on('drain', onUpstreamDrain);
    const first = body.open(x);
    if (first !== null) x.data(first);
    if (body.complete) x.end();
  }
  return x.promise;
}

/** The exchange is stored on its upstream stream so that the stream's listeners are shared functions, not closures. */
const UPSTREAM: unique symbol = Symbol('skein.h2Upstream');
type UpstreamStream = http2.ClientHttp2Stream & { [UPSTREAM]: NodeHttp2Exchange };

function onUpstreamError(this: UpstreamStream, e: Error): void {
  this[UPSTREAM].onError(e);
}
function onUpstreamResponse(this: UpstreamStream, rh: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number): void {
  this[UPSTREAM].onResponse(rh, flags);
}
function onUpstreamTrailers(this: UpstreamStream, t: http2.IncomingHttpHeaders): void {
  this[UPSTREAM].trailers = copyEndToEndHeaders(t, null);
}
function onUpstreamData(this: UpstreamStream, chunk: Buffer): void {
  if (!this[UPSTREAM].onData(chunk)) this.pause();
}
function onUpstreamEnd(this: UpstreamStream): void {
  this[UPSTREAM].onEnd();
}
function onUpstreamDrain(this: UpstreamStream): void {
  this[UPSTREAM].req.body?.resume();
}

class NodeHttp2Exchange extends UpstreamAttempt implements BodySink, ResponseBody {
  readonly #stream: http2.ClientHttp2Stream;
  trailers: HeaderBag | null = null;

  constructor(req: ProxyRequest, endpoint: EndpointHandle, stream: http2.ClientHttp2Stream) {
    super(req, endpoint);
    this.#stream = stream;
    (stream as UpstreamStream)[UPSTREAM] = this;
    stream.on('error', onUpstreamError);
    stream.once('response', onUpstreamResponse);
  }

  protected abortUpstream(): void {
    if (!this.#stream.destroyed) this.#stream.close(NGHTTP2_CANCEL);
  }

  onError(e: Error): void {
    if (this.aborted) return;
    this.fail(classifyUpstreamError(e));
  }

  onResponse(rh: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number): void {
    const stream = this.#stream;
    this.headArrived();
    const status = Number(rh[':status']);
    const out = copyEndToEndHeaders(rh, null);
    if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) {
      // Trailers-only (e.g. a gRPC error): no body; on HTTP/2 downstream serve sends it as a single HEADERS frame.
      stream.resume(); // let its (empty) readable side end, so that Node destroys the stream
      this.finish(null);
      this.resolve(new ProxyResponse(status, out, null));
      return;
    }
    // Trailers can arrive in the same read as the head, before serve starts the body: listen now.
    stream.on('trailers', onUpstreamTrailers);
    this.resolve(new ProxyResponse(status, out, this));
  }

  onData(chunk: Buffer): boolean {
    return this.deliver(chunk);
  }

  onEnd(): void {
    const code = this.#stream.rstCode;
    // When the upstream connection dies, Node ends the stream's readable side with rstCode set and no 'error':
    // that is a reset, and must not reach the client as a complete (truncated) response.
    if (code !== undefined && code !== NGHTTP2_NO_ERROR) {
      return this.fail(new ProxyError(ERRORS.upstreamReset, `upstream stream closed with code ${code}`));
    }
    this.finish(this.trailers);
  }

  override start(sink: Parameters<ResponseBody['start']>[0]): void {
    const s = this.#stream;
    s.on('data', onUpstreamData);
    s.once('end', onUpstreamEnd);
    super.start(sink);
  }

  resume(): void {
    this.#stream.resume();
  }

  // BodySink: the client's request body.
  data(chunk: Buffer): boolean {
    return this.#stream.write(chunk);
  }

  end(): void {
    this.#stream.end();
  }

  error(e: Error): void {
    if (this.aborted) return;
    this.abort();
    if (this.req.cancelled) return;
    this.fail(e instanceof ProxyError ? e : new ProxyError(ERRORS.badRequest, e.message));
  }
}
