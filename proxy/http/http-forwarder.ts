// Forwards one HTTP request (HTTP/1.1 or HTTP/2 downstream) to the chosen endpoint (HTTP/1.1 or HTTP/2 upstream), streaming both ways.
import { randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import { ERRORS, ProxyError, classifyUpstreamError } from '../errors/proxy-error.ts';
import type { CompiledRoute } from '../routing/route-table.ts';
import type { RequestRecorder } from '../telemetry/proxy-metrics.ts';
import type { EndpointHandle, UpstreamCluster } from '../upstream/upstream-cluster.ts';
import type { ExchangeHandler, Http1ClientConnection } from '../http1/client-connection.ts';
import type { ResponseHead } from '../http1/head-parser.ts';
import { fieldLines } from '../http1/head-writer.ts';
import type { BodySink, Http1Request, Http1Response } from '../http1/server-connection.ts';
import type { H2Request } from '../http2/h2-downstream.ts';
import { parseGrpcTimeout, MAX_TIMER_MS } from './grpc-timeout.ts';
import { applyHeaderMutation, copyEndToEndHeaders, type HeaderBag } from './hop-headers.ts';
import { isGrpcRequest, rescue, type DownstreamRequest, type DownstreamResponse } from './http-rescue.ts';
import { ORIGINAL_DST, type ListenerContext, type ListenerSnapshot } from './listener-context.ts';
import type { OriginalDestination } from '../native/original-destination.ts';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

/** Everything known about a request once it is validated and routed. */
export interface RoutedRequest {
  readonly authority: string;
  readonly path: string; // with query
  readonly route: CompiledRoute;
  readonly cluster: UpstreamCluster;
  readonly endpoint: EndpointHandle;
  readonly recorder: RequestRecorder;
}

function headerString(v: unknown): string | undefined {
  // Node's HTTP/1 header object has a prototype: an absent "constructor" header reads as a function, not a string.
  return Array.isArray(v) ? v[0] : typeof v === 'string' ? v : undefined;
}

/** Validates the request target and authority (RELIABILITY 7: host confusion), returning [authority, path] or an error. */
export function requestTarget(req: DownstreamRequest): ProxyError | readonly [string, string] {
  let authority: string | undefined;
  let path: string = req.url ?? '';
  if (req.httpVersionMajor === 2) {
    const a = headerString(req.headers[':authority']);
    const host = headerString(req.headers.host);
    if (a !== undefined && host !== undefined && a.toLowerCase() !== host.toLowerCase()) {
      return new ProxyError(ERRORS.badRequest, ':authority and host differ');
    }
    authority = a ?? host;
  } else {
    const raw = (req as Http1Request).rawHeaders;
    let hosts = 0;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
    if (hosts > 1) return new ProxyError(ERRORS.badRequest, 'duplicate Host');
    authority = headerString(req.headers.host);
    if (path.charCodeAt(0) !== 47 /* '/' */) {
      // absolute-form: http://host/path — its host must agree with Host.
      const m = /^https?:\/\/([^/?#]+)([^#]*)$/i.exec(path);
      if (!m) return new ProxyError(ERRORS.badRequest, 'invalid request target');
      if (authority !== undefined && authority.toLowerCase() !== m[1]!.toLowerCase()) {
        return new ProxyError(ERRORS.badRequest, 'absolute URI host differs from Host');
      }
      authority = m[1]!;
      path = m[2] || '/';
    }
    if (authority === undefined && req.httpVersionMinor >= 1) return new ProxyError(ERRORS.badRequest, 'missing Host');
  }
  if (!authority || authority.length > 255 || /[\s@/\\]/.test(authority)) return new ProxyError(ERRORS.badRequest, 'invalid authority');
  if (path.charCodeAt(0) !== 47) return new ProxyError(ERRORS.badRequest, 'invalid path');
  // Where we terminated TLS, the request must be for the name the handshake was for (a coalesced HTTP/2 connection
  // or a forged Host would otherwise reach another site with this site's TLS); 421 tells the client to reconnect.
  const sni = (req.socket as { servername?: unknown } | undefined)?.servername;
  if (typeof sni === 'string' && sni !== '' && hostWithoutPort(authority) !== sni.toLowerCase()) {
    return new ProxyError(ERRORS.misdirected, 'Host differs from TLS SNI');
  }
  return [authority, path] as const;
}

function hostWithoutPort(authority: string): string {
  const end = authority.charCodeAt(0) === 91 /* '[' */ ? authority.indexOf(']') + 1 : authority.lastIndexOf(':');
  return (end > 0 && end < authority.length ? authority.slice(0, end) : authority).toLowerCase();
}

function hashKey(req: DownstreamRequest, cluster: UpstreamCluster): string | null {
  const on = cluster.config.loadBalancer.hashOn;
  if (!on) return null;
  switch (on.type) {
    case 'header':
      return headerString(req.headers[on.name.toLowerCase()]) ?? null;
    case 'source-ip':
      return req.socket?.remoteAddress ?? null;
    case 'cookie': {
      const cookie = req.headers.cookie;
      const all = Array.isArray(cookie) ? cookie.join('; ') : cookie;
      if (!all) return null;
      for (const part of all.split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0 && part.slice(0, eq).trim() === on.name) return part.slice(eq + 1).trim();
      }
      return null;
    }
  }
}

/** Metrics recorders by route and cluster name (a route belongs to one listener's snapshot). */
const recorders = new WeakMap<CompiledRoute, Map<string, RequestRecorder>>();

/** Routes a request: virtual host, route, weighted backend, endpoint. */
export function routeRequest(snap: ListenerSnapshot, ctx: ListenerContext, req: DownstreamRequest, authority: string, path: string): ProxyError | RoutedRequest | { direct: CompiledRoute } {
  const q = path.indexOf('?');
  const route = snap.routes.route({
    authority,
    method: req.method ?? 'GET',
    path: q < 0 ? path : path.slice(0, q),
    query: q < 0 ? '' : path.slice(q + 1),
    headers: req.headers,
  });
  if (!route) return new ProxyError(ERRORS.noRoute);
  if (route.config.directResponse && route.config.backends.length === 0) return { direct: route };
  const clusterName = route.pickBackend();
  const cluster = clusterName === null ? undefined : snap.clusters.get(clusterName);
  if (!cluster) return new ProxyError(ERRORS.noEndpoints, `cluster ${clusterName ?? '(none)'}`);
  const originalDst = snap.needsOriginalDst ? ((req.socket as unknown as { [ORIGINAL_DST]?: OriginalDestination | null })?.[ORIGINAL_DST] ?? null) : null;
  const endpoint = cluster.pick({ hashKey: hashKey(req, cluster), originalDst });
  if (!endpoint) return new ProxyError(ERRORS.noEndpoints, `cluster ${cluster.name}`);
  let byCluster = recorders.get(route);
  if (byCluster === undefined) recorders.set(route, (byCluster = new Map()));
  let recorder = byCluster.get(cluster.name);
  if (recorder === undefined) {
    recorder = ctx.metrics.recorder(snap.listener.name, snap.listener.direction, route.name, cluster.name);
    byCluster.set(cluster.name, recorder);
  }
  return { authority, path, route, cluster, endpoint, recorder };
}

/** Builds the upstream request headers: end-to-end headers, forwarding headers, request id, the route's changes. */
export function upstreamRequestHeaders(snap: ListenerSnapshot, req: DownstreamRequest, encrypted: boolean): HeaderBag {
  const direction = snap.listener.direction;
  // Our own x-skein-* headers can't be trusted from outside the mesh: drop them at inbound and ingress.
  const headers = copyEndToEndHeaders(req.headers, direction === 'outbound' ? null : 'x-skein-');
  const client = req.socket?.remoteAddress ?? '';
  if (direction === 'ingress') {
    // The edge trusts nothing the client says about the path so far: none of its forwarding headers survive.
    for (const name in headers) {
      const n = name.includes('_') ? name.replaceAll('_', '-') : name;
      if (n.startsWith('x-forwarded-') || n === 'forwarded') delete headers[name];
    }
    headers['x-forwarded-for'] = client;
    headers['x-forwarded-proto'] = encrypted ? 'https' : 'http';
    headers['x-request-id'] = randomUUID();
  } else {
    const xff = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = xff === undefined ? client : `${Array.isArray(xff) ? xff.join(', ') : xff}, ${client}`;
    if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = encrypted ? 'https' : 'http';
    if (headers['x-request-id'] === undefined) headers['x-request-id'] = randomUUID();
  }
  return headers;
}

function hasRequestBody(req: DownstreamRequest): boolean {
  return req.hasBody;
}

/** Handles one request end to end. Never throws: every failure goes through `rescue`. */
export function forwardHttp(ctx: ListenerContext, req: DownstreamRequest, res: DownstreamResponse): void {
  const started = performance.now();
  const snap = ctx.snapshot();
  ctx.requestStarted();
  let finished = false;
  let recorder: RequestRecorder | null = null;
  const done = (code: number): void => {
    if (finished) return;
    finished = true;
    ctx.requestFinished();
    recorder?.record(code, (performance.now() - started) / 1000);
  };
  const fail = (e: unknown): void => {
    const spec = rescue(req, res, e);
    ctx.metrics.proxyError(snap.listener.name, spec.cause);
    done(res.headersSent ? res.statusCode : spec.status);
  };
  res.once('close', () => done(res.statusCode));
  if (req.httpVersionMajor === 2 && (req as H2Request).stream.closed) {
    // Reset by the client before we got to it (rapid reset, CVE-2023-44487): no upstream work for a stream nobody awaits.
    return done(499);
  }
  if (ctx.draining() && req.httpVersionMajor !== 2) res.setHeader('connection', 'close');
  // An Upgrade we serve as plain HTTP/1.1 (h2c, anything but WebSocket): the client may send bytes of the protocol it
  // asked for right behind its request; close after this response so that they are never read as a request.
  else if (req.httpVersionMajor === 1 && req.headers.upgrade !== undefined) res.setHeader('connection', 'close');

  try {
    if (req.httpVersionMajor !== 2 && (req as Http1Request).rawHeaders.length / 2 > snap.limits.maxHeaderCount) {
      return fail(new ProxyError(ERRORS.headersTooLarge, 'too many headers'));
    }
    // Framing toward the upstream is regenerated as plain chunked, so any other transfer-coding (gzip, chunked) would be
    // silently lost: refuse it (RELIABILITY 1, TE variants) rather than forward a body the upstream cannot decode.
    const te = req.httpVersionMajor !== 2 ? req.headers['transfer-encoding'] : undefined;
    if (te !== undefined && String(te).trim().toLowerCase() !== 'chunked') return fail(new ProxyError(ERRORS.badRequest, 'unsupported transfer-coding'));
    const target = requestTarget(req);
    if (target instanceof ProxyError) return fail(target);
    const routed = routeRequest(snap, ctx, req, target[0], target[1]);
    if (routed instanceof ProxyError) return fail(routed);
    if ('direct' in routed) {
      const d = routed.direct.config.directResponse!;
      recorder = ctx.metrics.recorder(snap.listener.name, snap.listener.direction, routed.direct.name, '');
      const headers: HeaderBag = Object.create(null);
      applyHeaderMutation(headers, routed.direct.config.responseHeaders);
      headers['content-length'] = String(Buffer.byteLength(d.body));
      (res as Http1Response).writeHead(d.status, headers);
      res.end(d.body);
      return;
    }
    recorder = routed.recorder;
    const encrypted = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
    const headers = upstreamRequestHeaders(snap, req, encrypted);
    applyHeaderMutation(headers, routed.route.config.requestHeaders);
    sendUpstream(ctx, snap, req, res, routed, headers, fail);
  } catch (e) {
    // Cannot happen in a correct proxy; answered as 500 rather than crashing the process.
    fail(e);
  }
}

function requestTimeoutMs(req: DownstreamRequest, route: CompiledRoute): number {
  const grpc = parseGrpcTimeout(req.headers['grpc-timeout']);
  const routeMs = route.config.timeoutMs;
  if (grpc !== null && routeMs > 0) return Math.min(grpc, routeMs);
  return grpc ?? (routeMs > 0 ? Math.min(routeMs, MAX_TIMER_MS) : 0);
}

function sendUpstream(
  ctx: ListenerContext,
  snap: ListenerSnapshot,
  req: DownstreamRequest,
  res: DownstreamResponse,
  routed: RoutedRequest,
  headers: HeaderBag,
  fail: (e: unknown) => void,
): void {
  const { endpoint, route } = routed;
  const state = endpoint.state;
  state.active++;
  const sentAt = performance.now();
  let released = false;
  const release = (): void => {
    if (!released) {
      released = true;
      state.active--;
    }
  };
  const timeoutMs = requestTimeoutMs(req, route);
  const responseHeaderMutation = route.config.responseHeaders;
  const hasBody = hasRequestBody(req);
  const grpc = isGrpcRequest(req);

  if (routed.cluster.config.protocol === 'http2') {
    headers[':method'] = req.method ?? 'GET';
    headers[':path'] = routed.path;
    headers[':authority'] = routed.authority;
    headers[':scheme'] = 'http';
    if (grpc || headers.te !== undefined) headers.te = 'trailers';
    let stream: http2.ClientHttp2Stream;
    try {
      stream = endpoint.http2.request(headers as http2.OutgoingHttpHeaders, !hasBody);
    } catch (e) {
      release();
      return fail(classifyUpstreamError(e));
    }
    const x = new Http2UpstreamExchange(stream, req, res, endpoint, responseHeaderMutation, sentAt, release, fail);
    if (timeoutMs > 0) x.timer = setTimeout(onUpstreamTimeout, timeoutMs, stream);
    res.once('close', x.onDownstreamClose);
    if (hasBody) {
      // Both downstream request types forward their body the same way (a sink, with back-pressure through resume()).
      const src = req as Http1Request;
      stream.on('drain', onUpstreamDrain);
      const first = src.attachBody(x);
      if (first !== null) x.data(first);
      if (src.complete) x.end();
    }
    return;
  }

  // HTTP/1.1 upstream: we regenerate framing ourselves (RELIABILITY 1): Content-Length when known, else chunked.
  headers.host = routed.authority;
  if (req.httpVersionMajor === 2) delete headers.te;
  const method = req.method ?? 'GET';
  const chunked = hasBody && headers['content-length'] === undefined;
  const head = `${method} ${routed.path} HTTP/1.1\r\n${fieldLines(headers)}${chunked ? 'transfer-encoding: chunked\r\n' : ''}\r\n`;
  const x = new Http1UpstreamExchange(req, res, endpoint, head, method, hasBody, chunked, responseHeaderMutation, sentAt, release, fail);
  if (timeoutMs > 0) x.timer = setTimeout(x.onTimeout, timeoutMs);
  res.once('close', x.onDownstreamClose);
  x.attempt();
}

/** The exchange is stored on its upstream stream so that the stream's listeners are shared functions, not closures. */
const UPSTREAM: unique symbol = Symbol('skein.h2Upstream');
type UpstreamStream = http2.ClientHttp2Stream & { [UPSTREAM]: Http2UpstreamExchange };

function onUpstreamError(this: UpstreamStream, e: Error): void {
  this[UPSTREAM].onError(e);
}
function onUpstreamResponse(this: UpstreamStream, rh: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number): void {
  this[UPSTREAM].onResponse(rh, flags);
}
function onUpstreamTrailers(this: UpstreamStream, t: http2.IncomingHttpHeaders): void {
  this[UPSTREAM].onTrailers(t);
}
function onUpstreamData(this: UpstreamStream, chunk: Buffer): void {
  this[UPSTREAM].onData(chunk);
}
function onUpstreamEnd(this: UpstreamStream): void {
  this[UPSTREAM].onEnd();
}
function onUpstreamDrain(this: UpstreamStream): void {
  this[UPSTREAM].onDrain();
}
function onUpstreamTimeout(stream: http2.ClientHttp2Stream): void {
  stream.destroy(new ProxyError(ERRORS.timeout));
}

/**
 * One request to an HTTP/2 upstream: the stream's callbacks as methods of one object. Body bytes flow with
 * back-pressure both ways: the client's into `data` (a BodySink), the upstream's into the response.
 */
class Http2UpstreamExchange implements BodySink {
  timer: NodeJS.Timeout | null = null;
  readonly #stream: http2.ClientHttp2Stream;
  readonly #req: DownstreamRequest;
  readonly #res: DownstreamResponse;
  readonly #endpoint: EndpointHandle;
  readonly #mutation: CompiledRoute['config']['responseHeaders'];
  readonly #sentAt: number;
  readonly #release: () => void;
  readonly #fail: (e: unknown) => void;
  #resumeUpstream: (() => void) | null = null;

  constructor(
    stream: http2.ClientHttp2Stream,
    req: DownstreamRequest,
    res: DownstreamResponse,
    endpoint: EndpointHandle,
    mutation: CompiledRoute['config']['responseHeaders'],
    sentAt: number,
    release: () => void,
    fail: (e: unknown) => void,
  ) {
    this.#stream = stream;
    this.#req = req;
    this.#res = res;
    this.#endpoint = endpoint;
    this.#mutation = mutation;
    this.#sentAt = sentAt;
    this.#release = release;
    this.#fail = fail;
    (stream as UpstreamStream)[UPSTREAM] = this;
    stream.on('error', onUpstreamError);
    stream.once('response', onUpstreamResponse);
  }

  #stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }

  #abort(): void {
    if (!this.#stream.destroyed) this.#stream.close(NGHTTP2_CANCEL);
  }

  readonly onDownstreamClose = (): void => {
    this.#stopTimer();
    this.#release();
    if (!this.#res.writableEnded) this.#abort();
  };

  onError(e: Error): void {
    this.#stopTimer();
    this.#release();
    this.#fail(classifyUpstreamError(e));
  }

  onResponse(rh: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number): void {
    const stream = this.#stream;
    const res = this.#res;
    this.#endpoint.state.observeLatency(performance.now() - this.#sentAt);
    const status = Number(rh[':status']);
    const out = copyEndToEndHeaders(rh, null);
    applyHeaderMutation(out, this.#mutation);
    if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
      // Trailers-only (e.g. a gRPC error): on HTTP/2 downstream, a response ended before any body is a single HEADERS frame.
      this.#stopTimer();
      this.#release();
      stream.resume(); // let its (empty) readable side end, so that Node destroys the stream
      writeResponseHead(res, status, out);
      res.end();
      return;
    }
    writeResponseHead(res, status, out);
    stream.on('trailers', onUpstreamTrailers);
    stream.on('data', onUpstreamData);
    stream.once('end', onUpstreamEnd);
  }

  onTrailers(t: http2.IncomingHttpHeaders): void {
    this.#res.addTrailers(copyEndToEndHeaders(t, null) as Record<string, string>);
  }

  onData(chunk: Buffer): void {
    if ((this.#res as Http1Response).write(chunk)) return;
    const stream = this.#stream;
    stream.pause();
    this.#res.once('drain', (this.#resumeUpstream ??= () => void stream.resume()));
  }

  onEnd(): void {
    this.#stopTimer();
    const code = this.#stream.rstCode;
    // When the upstream connection dies, Node ends the stream's readable side with rstCode set and no 'error':
    // that is a reset, and must not reach the client as a complete (truncated) response.
    if (code !== undefined && code !== NGHTTP2_NO_ERROR) {
      this.#release();
      return this.#fail(new ProxyError(ERRORS.upstreamReset, `upstream stream closed with code ${code}`));
    }
    this.#res.end();
  }

  onDrain(): void {
    (this.#req as Http1Request).resume();
  }

  // BodySink: the client's request body.
  data(chunk: Buffer): boolean {
    return this.#stream.write(chunk);
  }

  end(): void {
    this.#stream.end();
  }

  error(): void {
    this.#abort();
  }
}

/**
 * One request to an HTTP/1.1 upstream: the exchange's callbacks as methods of one object (no closures per request).
 * Body bytes flow with back-pressure both ways: the client's into `write`, the upstream's into the response.
 */
class Http1UpstreamExchange implements ExchangeHandler, BodySink {
  timer: NodeJS.Timeout | null = null;
  readonly #req: DownstreamRequest;
  readonly #res: DownstreamResponse;
  readonly #endpoint: EndpointHandle;
  readonly #head: string;
  readonly #method: string;
  readonly #hasBody: boolean;
  readonly #chunked: boolean;
  readonly #mutation: CompiledRoute['config']['responseHeaders'];
  readonly #sentAt: number;
  readonly #release: () => void;
  readonly #fail: (e: unknown) => void;
  #conn: Http1ClientConnection | null = null;
  #gotResponse = false;
  #aborted = false;
  #retried = false;

  constructor(
    req: DownstreamRequest,
    res: DownstreamResponse,
    endpoint: EndpointHandle,
    head: string,
    method: string,
    hasBody: boolean,
    chunked: boolean,
    mutation: CompiledRoute['config']['responseHeaders'],
    sentAt: number,
    release: () => void,
    fail: (e: unknown) => void,
  ) {
    this.#req = req;
    this.#res = res;
    this.#endpoint = endpoint;
    this.#head = head;
    this.#method = method;
    this.#hasBody = hasBody;
    this.#chunked = chunked;
    this.#mutation = mutation;
    this.#sentAt = sentAt;
    this.#release = release;
    this.#fail = fail;
  }

  attempt(): void {
    this.#endpoint.http1.acquire(this.#start);
  }

  readonly #start = (c: Http1ClientConnection): void => {
    if (this.#aborted) return this.#endpoint.http1.release(c);
    this.#conn = c;
    const headOnly = this.#method === 'HEAD';
    if (!this.#hasBody) return c.send(this, this.#head, false, null, true, headOnly);
    // Both downstream request types: bytes already held go out with the head; the rest arrive through this BodySink.
    const src = this.#req as Http1Request;
    const first = src.attachBody(this);
    c.send(this, this.#head, this.#chunked, first, src.complete, headOnly);
  };

  #stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }

  #abort(): void {
    this.#aborted = true;
    this.#conn?.abort();
  }

  readonly onTimeout = (): void => {
    this.#abort();
    this.#release();
    this.#fail(new ProxyError(ERRORS.timeout));
  };

  readonly onDownstreamClose = (): void => {
    this.#stopTimer();
    this.#release();
    if (!this.#res.writableEnded) this.#abort();
  };

  readonly #onResponseDrain = (): void => this.#conn?.resume();

  // ExchangeHandler: the upstream's answer.
  onResponse(rh: ResponseHead): void {
    this.#gotResponse = true;
    this.#endpoint.state.observeLatency(performance.now() - this.#sentAt);
    const out = copyEndToEndHeaders(rh.headers, null);
    applyHeaderMutation(out, this.#mutation);
    writeResponseHead(this.#res, rh.status, out);
  }

  onData(chunk: Buffer): boolean {
    if ((this.#res as Http1Response).write(chunk)) return true;
    this.#res.once('drain', this.#onResponseDrain);
    return false;
  }

  onEnd(trailers: HeaderBag | null): void {
    this.#stopTimer();
    if (trailers !== null) this.#res.addTrailers(copyEndToEndHeaders(trailers, null) as Record<string, string>);
    this.#res.end();
  }

  onError(e: Error, retryable: boolean): void {
    if (this.#aborted) return;
    // A kept-alive connection the upstream closed while we reused it: safe to send once more if nothing was streamed.
    if (retryable && !this.#gotResponse && !this.#retried && !this.#hasBody) {
      this.#retried = true;
      return this.attempt();
    }
    this.#stopTimer();
    this.#release();
    this.#fail(classifyUpstreamError(e));
  }

  onDrain(): void {
    // Http1Request.resume() resumes reading the client socket; H2Request.resume() resumes the HTTP/2 stream.
    this.#req.resume();
  }

  // BodySink: the HTTP/1.1 client's request body.
  data(chunk: Buffer): boolean {
    return this.#conn!.write(chunk);
  }

  end(): void {
    this.#conn!.end();
  }

  error(e: Error): void {
    if (this.#aborted) return;
    this.#abort();
    // The client went away: nobody to answer. A framing error: 400 if nothing was sent yet (rescue decides).
    if (this.#res.destroyed) return;
    this.#stopTimer();
    this.#release();
    this.#fail(e instanceof ProxyError ? e : new ProxyError(ERRORS.badRequest, e.message));
  }
}

function writeResponseHead(res: DownstreamResponse, status: number, headers: HeaderBag): void {
  // Both response classes take the same arguments; the cast only joins their overloads.
  if (!res.headersSent) (res as Http1Response).writeHead(status, headers);
}
