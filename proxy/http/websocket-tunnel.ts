// Tunnels an HTTP/1.1 Upgrade (WebSocket) only after the upstream answers 101; any other answer is relayed as a normal response.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, ProxyError, classifyUpstreamError } from '../errors/proxy-error.ts';
import { ERROR_HEADER } from './http-rescue.ts';
import { hashKey } from '../stack/balance.ts';
import { downstreamInfo } from '../stack/downstream-info.ts';
import { upstreamRequestHeaders } from '../stack/forwarding-headers.ts';
import { ProxyRequest } from '../stack/proxy-request.ts';
import { requestTarget } from '../stack/request-target.ts';
import { applyRouteChanges, pickCluster, pickRoute } from '../stack/route.ts';
import { remoteOf } from '../telemetry/peer-labels.ts';
import { applyHeaderMutation } from './hop-headers.ts';
import type { ListenerContext, ListenerSnapshot } from './listener-context.ts';
import type { CompiledRoute } from '../routing/route-table.ts';
import { ProxyResponse, type ResponseSink } from '../stack/proxy-response.ts';
import { stack, type Service } from '../stack/service.ts';
import { connect, PLAIN } from '../upstream/connector.ts';
import type { Http1Request } from '../http1/server-connection.ts';

/** Serializes an HTTP/1.1 response head (the socket is raw once Node hands over an upgrade). */
function responseHead(status: number, headers: Readonly<Record<string, string | string[] | number>>): string {
  let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n`;
  for (const [k, v] of Object.entries(headers)) for (const one of Array.isArray(v) ? v : [v]) head += `${k}: ${one}\r\n`;
  return `${head}\r\n`;
}

function writeRawResponse(socket: Duplex, status: number, headers: Record<string, string | string[] | number>, body: string): void {
  socket.end(responseHead(status, headers) + body);
}

function rejectUpgrade(ctx: ListenerContext, socket: Duplex, e: ProxyError): void {
  ctx.metrics.proxyError(ctx.snapshot().listener.name, e.spec.cause);
  const body = `${e.spec.message}\n`;
  writeRawResponse(socket, e.spec.status, { ...(e.headers ?? {}), 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), connection: 'close', [ERROR_HEADER]: e.spec.cause }, body);
}

/** What the admission stack's innermost service answers: the edge policies let the upgrade through. */
const ADMITTED = new ProxyResponse(101, Object.create(null), null);
const ADMIT: Service = () => Promise.resolve(ADMITTED);
const admissions = new WeakMap<CompiledRoute, Service | null>();

/**
 * The route's edge policies (IP filter, JWT, external authorization; proxy/policy/edge-policies.ts) as a stack over
 * ADMIT, or null when it has none: an upgrade is held to the same checks as a request on the route.
 */
function admission(ctx: ListenerContext, snap: ListenerSnapshot, route: CompiledRoute): Service | null {
  let a = admissions.get(route);
  if (a === undefined) {
    const layers = ctx.policy?.edge?.({ listener: snap.listener, route }) ?? [];
    a = layers.length === 0 ? null : stack(layers, ADMIT);
    admissions.set(route, a);
  }
  return a;
}

/** An answer of the edge policies instead of the upgrade (an authorization service's denial), written raw; then close. */
function writeAnswer(socket: Duplex, res: ProxyResponse): void {
  const chunks: Buffer[] = [];
  const sink: ResponseSink = {
    data: (c) => (chunks.push(c), true),
    end: () => {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string | string[]> = { ...res.headers, 'content-length': String(body.length), connection: 'close' };
      socket.end(Buffer.concat([Buffer.from(responseHead(res.status, headers), 'latin1'), body]));
    },
    error: () => socket.destroy(),
  };
  if (res.body === null) sink.end(null);
  else res.body.start(sink);
}

export function tunnelUpgrade(ctx: ListenerContext, req: Http1Request, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const snap = ctx.snapshot();
  const target = requestTarget(req, snap.listener.direction === 'ingress', snap.listener.tls?.listenerHostnames);
  if (target instanceof ProxyError) return rejectUpgrade(ctx, socket, target);
  const downstream = downstreamInfo(req.socket, snap);
  const headers = upstreamRequestHeaders(downstream.direction, req.headers, downstream.clientAddress, downstream.tls, downstream.peerIdentity, snap.listener.xffTrustedHops ?? 0);
  // The same route and balance stages as every request (a ProxyRequest without a body: the tunnel carries the bytes).
  const preq = new ProxyRequest(req.method, target[0], target[1], headers, null, downstream, false, performance.now(), req.headers);
  // Authorized like every request on the listener (the stack's authorize layer, which an upgrade does not pass through):
  // a tunnel is a long-lived connection to the app, so a policy that denies the request denies it.
  const authorize = snap.authorize ?? ctx.hooks?.authorize ?? null;
  const denied = authorize === null ? null : authorize(preq);
  if (denied !== null) return rejectUpgrade(ctx, socket, denied);
  const route = pickRoute(snap, preq);
  if (route instanceof ProxyError) return rejectUpgrade(ctx, socket, route);
  if (route.config.directResponse && route.config.backends.length === 0) return rejectUpgrade(ctx, socket, new ProxyError(ERRORS.upgradeRejected, 'route answers directly'));
  const admit = admission(ctx, snap, route);
  if (admit === null) return forwardUpgrade(ctx, snap, req, socket, head, preq, route);
  admit(preq).then(
    (res) => {
      if (socket.destroyed) return;
      if (res === ADMITTED) forwardUpgrade(ctx, snap, req, socket, head, preq, route);
      else writeAnswer(socket, res);
    },
    (e: unknown) => {
      if (!socket.destroyed) rejectUpgrade(ctx, socket, e instanceof ProxyError ? e : new ProxyError(ERRORS.internal));
    },
  );
}

function forwardUpgrade(ctx: ListenerContext, snap: ListenerSnapshot, req: Http1Request, socket: Duplex, head: Buffer, preq: ProxyRequest, route: CompiledRoute): void {
  const downstream = preq.downstream;
  const headers = preq.headers;
  const picked = pickCluster(snap, route);
  if (picked instanceof ProxyError) return rejectUpgrade(ctx, socket, picked);
  // The route's header modifiers and URL rewrite apply to an upgrade as to any request of the route.
  applyRouteChanges(preq, route, picked.requestHeaders);
  const target = [preq.authority, preq.path] as const;
  const cluster = picked.cluster;
  preq.cluster = cluster;
  const endpoint = cluster.pick({ hashKey: hashKey(preq, cluster), originalDst: downstream.originalDst });
  if (!endpoint) return rejectUpgrade(ctx, socket, new ProxyError(ERRORS.noEndpoints, `cluster ${cluster.name}`));
  preq.endpoint = endpoint;
  const routed = { authority: target[0], path: target[1], route, cluster, endpoint, recorder: ctx.metrics.recorder(snap.listener, route.name, cluster) };
  headers.host = routed.authority;
  headers.connection = 'Upgrade';
  headers.upgrade = req.headers.upgrade ?? 'websocket';
  const state = routed.endpoint.state;
  state.active++;
  ctx.requestStarted();
  let finished = false;
  const finish = (code: number): void => {
    if (finished) return;
    clearTimeout(answerTimer);
    finished = true;
    state.active--;
    ctx.requestFinished();
    const remote = remoteOf(preq);
    routed.recorder.record(remote.labels, code, -1, remote.mtls, (performance.now() - preq.startedAt) / 1000, 0, 0);
  };
  // A dedicated connection (agent: false): an upgraded connection must never go back to a pool.
  const upReq = http.request({
    host: state.address,
    port: state.port,
    method: req.method,
    path: routed.path,
    headers,
    agent: false,
    setHost: false,
    // The one connector every upstream connection goes through (a dedicated socket: never pooled).
    createConnection: () => connect(state, routed.endpoint.transport ?? PLAIN, routed.cluster.config.connectTimeoutMs),
  });
  const connectTimer = setTimeout(() => upReq.destroy(new ProxyError(ERRORS.connectTimeout)), routed.cluster.config.connectTimeoutMs);
  // Until the upstream has answered nothing else bounds this exchange: the client socket has left the HTTP server (no
  // server timeouts) and the request has a dedicated connection. An upstream that never answers would hold both forever.
  const answerTimer = setTimeout(() => upReq.destroy(new ProxyError(ERRORS.timeout, 'no answer to the upgrade')), snap.limits.requestIdleTimeoutMs);
  upReq.once('socket', (s) => s.once('connect', () => clearTimeout(connectTimer)));
  upReq.on('error', (e) => {
    clearTimeout(connectTimer);
    if (!socket.destroyed) rejectUpgrade(ctx, socket, classifyUpstreamError(e));
    finish(502);
  });
  socket.once('close', () => {
    if (!finished) upReq.destroy();
  });
  upReq.once('upgrade', (upRes, upSocket, upHead) => {
    clearTimeout(connectTimer);
    clearTimeout(answerTimer);
    const out: Record<string, string | string[]> = Object.create(null);
    for (const [k, v] of Object.entries(upRes.headers)) if (v !== undefined) out[k] = v;
    applyHeaderMutation(out, routed.route.config.responseHeaders);
    socket.write(responseHead(101, out));
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.on('error', () => socket.destroy());
    const idle = snap.limits.requestIdleTimeoutMs;
    upSocket.setTimeout(idle, () => upSocket.destroy());
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    upSocket.once('close', () => {
      socket.destroy();
      finish(101);
    });
    socket.once('close', () => upSocket.destroy());
  });
  upReq.once('response', (upRes) => {
    // Not 101: relay as an ordinary response and close; the connection is not tunnelled.
    clearTimeout(connectTimer);
    const out: Record<string, string | string[]> = Object.create(null);
    for (const [k, v] of Object.entries(upRes.headers)) {
      if (v === undefined || k === 'connection' || k === 'transfer-encoding' || k === 'keep-alive' || k === 'upgrade') continue;
      out[k] = v;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    upRes.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1_048_576) upRes.destroy();
      else chunks.push(c);
    });
    upRes.once('end', () => {
      const body = Buffer.concat(chunks);
      out['content-length'] = String(body.length);
      out.connection = 'close';
      socket.write(responseHead(upRes.statusCode ?? 502, out));
      socket.end(body);
      finish(upRes.statusCode ?? 502);
    });
    upRes.on('error', () => {
      socket.destroy();
      finish(502);
    });
  });
  upReq.end();
}
