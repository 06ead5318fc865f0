// Forwards one HTTP request (HTTP/1.1 or HTTP/2 downstream) to the chosen endpoint (HTTP/1.1 or HTTP/2 upstream), streaming both ways.
import { randomUUID } from 'node:crypto';
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import http2 from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { ERRORS, ProxyError, classifyUpstreamError } from '../errors/proxy-error.ts';
import type { CompiledRoute } from '../routing/route-table.ts';
import type { RequestRecorder } from '../telemetry/proxy-metrics.ts';
import type { EndpointHandle, UpstreamCluster } from '../upstream/upstream-cluster.ts';
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
    const raw = (req as IncomingMessage).rawHeaders;
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
  const recorder = ctx.metrics.recorder(snap.listener.name, snap.listener.direction, route.name, cluster.name);
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
  if (req.httpVersionMajor === 2) return !(req as Http2ServerRequest).stream.endAfterHeaders;
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
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
  if (req.httpVersionMajor === 2 && (req as Http2ServerRequest).stream.closed) {
    // Reset by the client before we got to it (rapid reset, CVE-2023-44487): no upstream work for a stream nobody awaits.
    return done(499);
  }
  if (ctx.draining() && req.httpVersionMajor !== 2) res.setHeader('connection', 'close');
  // An Upgrade we serve as plain HTTP/1.1 (h2c, anything but WebSocket) leaves Node's parser in upgrade mode: later
  // requests on the connection would be silently ignored, so say so and close after this response.
  else if (req.httpVersionMajor === 1 && req.headers.upgrade !== undefined) res.setHeader('connection', 'close');

  try {
    if (req.httpVersionMajor !== 2 && (req as IncomingMessage).rawHeaders.length / 2 > snap.limits.maxHeaderCount) {
      return fail(new ProxyError(ERRORS.headersTooLarge, 'too many headers'));
    }
    // Framing toward the upstream is regenerated as plain chunked, so any other transfer-coding (gzip, chunked) would be
    // silently lost: refuse it (RELIABILITY 1, TE variants) rather than forward a body the upstream cannot decode.
    const te = req.httpVersionMajor !== 2 ? req.headers['transfer-encoding'] : undefined;
    if (te !== undefined && te.trim().toLowerCase() !== 'chunked') return fail(new ProxyError(ERRORS.badRequest, 'unsupported transfer-coding'));
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
      (res as ServerResponse).writeHead(d.status, headers);
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
  let timer: NodeJS.Timeout | null = null;
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
    const abort = (): void => {
      if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
    };
    if (timeoutMs > 0) timer = setTimeout(() => { stream.destroy(new ProxyError(ERRORS.timeout)); }, timeoutMs);
    stream.on('error', (e) => {
      if (timer) clearTimeout(timer);
      release();
      fail(classifyUpstreamError(e));
    });
    res.once('close', () => {
      if (timer) clearTimeout(timer);
      release();
      // writableEnded, not writableFinished: after a client RST_STREAM, Node reports an HTTP/2 response as finished.
      if (!res.writableEnded) abort();
    });
    stream.once('response', (rh, flags) => {
      state.observeLatency(performance.now() - sentAt);
      const status = Number(rh[':status']);
      const out = copyEndToEndHeaders(rh, null);
      applyHeaderMutation(out, responseHeaderMutation);
      const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      if (endStream && req.httpVersionMajor === 2 && !res.headersSent) {
        // Trailers-only (e.g. a gRPC error): keep it a single HEADERS frame downstream.
        const ds = (res as Http2ServerResponse).stream;
        if (!ds.destroyed) ds.respond({ ...out, ':status': status }, { endStream: true });
        if (timer) clearTimeout(timer);
        release();
        return;
      }
      writeResponseHead(res, status, out);
      stream.on('trailers', (t) => res.addTrailers(copyEndToEndHeaders(t, null) as Record<string, string>));
      stream.pipe(res as NodeJS.WritableStream, { end: false });
      stream.once('end', () => {
        if (timer) clearTimeout(timer);
        // When the upstream connection dies, Node ends the stream's readable side with rstCode set and no 'error':
        // that is a reset, and must not reach the client as a complete (truncated) response.
        if (stream.rstCode !== undefined && stream.rstCode !== NGHTTP2_NO_ERROR) {
          release();
          return fail(new ProxyError(ERRORS.upstreamReset, `upstream stream closed with code ${stream.rstCode}`));
        }
        res.end();
      });
    });
    if (hasBody) pipeRequestBody(req, stream, abort);
    return;
  }

  // HTTP/1.1 upstream: we regenerate framing ourselves (RELIABILITY 1): Content-Length when known, else chunked.
  headers.host = routed.authority;
  const cl = req.headers['content-length'];
  if (hasBody) {
    if (req.httpVersionMajor !== 2 && req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = 'chunked';
    else if (cl !== undefined) headers['content-length'] = cl;
    else headers['transfer-encoding'] = 'chunked';
  }
  if (req.httpVersionMajor === 2) delete headers.te;
  const attempt = (retried: boolean): void => {
    let upReq: ClientRequest;
    try {
      upReq = endpoint.http1.request(req.method ?? 'GET', routed.path, headers as OutgoingHttpHeaders);
    } catch (e) {
      release();
      return fail(classifyUpstreamError(e));
    }
    let gotResponse = false;
    let upstreamResponse: IncomingMessage | null = null;
    if (timeoutMs > 0 && timer === null) timer = setTimeout(() => { upReq.destroy(new ProxyError(ERRORS.timeout)); }, timeoutMs);
    upReq.on('error', (e) => {
      // Bytes after a complete response (a body on a HEAD or 204 answer): only that upstream connection is poisoned,
      // and Node discards it; the client already has its whole response.
      if (upstreamResponse?.complete) return;
      // A kept-alive connection the upstream closed while we reused it: safe to send once more if nothing was streamed.
      if (!gotResponse && !retried && !hasBody && upReq.reusedSocket && (e as NodeJS.ErrnoException).code === 'ECONNRESET') {
        return attempt(true);
      }
      if (timer) clearTimeout(timer);
      release();
      fail(classifyUpstreamError(e));
    });
    const onDownstreamClose = (): void => {
      if (timer) clearTimeout(timer);
      release();
      if (!res.writableEnded) upReq.destroy();
    };
    res.once('close', onDownstreamClose);
    // A 101 to a request that asked for no upgrade: Node emits neither 'response' nor 'error' (the request would hang).
    upReq.once('upgrade', (_r: IncomingMessage, upSocket: Duplex) => {
      upSocket.destroy();
      if (timer) clearTimeout(timer);
      release();
      fail(new ProxyError(ERRORS.upstreamProtocol, 'unsolicited 101'));
    });
    upReq.once('response', (upRes: IncomingMessage) => {
      gotResponse = true;
      upstreamResponse = upRes;
      state.observeLatency(performance.now() - sentAt);
      const status = upRes.statusCode ?? 502;
      // Framing toward the client is regenerated: a transfer-coding other than chunked (gzip, chunked) would be lost.
      const upTe = upRes.headers['transfer-encoding'];
      if (upTe !== undefined && upTe.trim().toLowerCase() !== 'chunked') {
        upRes.destroy();
        if (timer) clearTimeout(timer);
        release();
        return fail(new ProxyError(ERRORS.upstreamProtocol, 'unsupported transfer-coding'));
      }
      const out = copyEndToEndHeaders(upRes.headers as Record<string, string | string[]>, null);
      applyHeaderMutation(out, responseHeaderMutation);
      writeResponseHead(res, status, out);
      upRes.on('error', (e) => fail(classifyUpstreamError(e)));
      upRes.on('aborted', () => fail(new ProxyError(ERRORS.upstreamReset, 'response body cut short')));
      upRes.pipe(res as NodeJS.WritableStream, { end: false });
      upRes.once('end', () => {
        if (timer) clearTimeout(timer);
        const t = upRes.trailers;
        for (const _ in t) {
          res.addTrailers(copyEndToEndHeaders(t as Record<string, string>, null) as Record<string, string>);
          break;
        }
        res.end();
      });
    });
    if (hasBody) pipeRequestBody(req, upReq, () => upReq.destroy());
    else upReq.end();
  };
  attempt(false);
}

function writeResponseHead(res: DownstreamResponse, status: number, headers: HeaderBag): void {
  // Both response classes take the same arguments; the cast only joins their overloads.
  if (!res.headersSent) (res as ServerResponse).writeHead(status, headers as Record<string, string | string[]>);
}

function pipeRequestBody(req: DownstreamRequest, dst: NodeJS.WritableStream, abort: () => void): void {
  req.on('error', abort);
  (req as NodeJS.ReadableStream).pipe(dst);
}

