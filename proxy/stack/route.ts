// The route stage: picks the route and its weighted backend for a request, sets the deadline, and hands it to that route's stack.
import type { HeaderMutationConfig } from '../../api/config/proxy-config.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { MAX_TIMER_MS, parseGrpcTimeout } from '../http/grpc-timeout.ts';
import { applyHeaderMutation, type HeaderBag } from '../http/hop-headers.ts';
import type { ListenerContext, ListenerSnapshot } from '../http/listener-context.ts';
import type { CompiledRoute } from '../routing/route-table.ts';
import type { RequestRecorder } from '../telemetry/proxy-metrics.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { clusterService } from './cluster-stack.ts';
import { changePath } from '../routing/path-modifier.ts';
import { FixedBody } from './fixed-body.ts';
import { redirectResponse } from './redirect.ts';
import { NO_POLICY, type PolicyDeps } from './policy-slot.ts';
import type { ProxyRequest } from './proxy-request.ts';
import { ProxyResponse } from './proxy-response.ts';
import { stack, type Service } from './service.ts';
import type { SpanStarter } from './stack-hooks.ts';

/** Per route: its stack (policy layers over the cluster dispatch) and a metrics recorder per cluster. */
interface RouteEntry {
  readonly service: Service;
  /** The span hook it was built with: rebuilt when telemetry is reconfigured. */
  readonly span: SpanStarter | null;
  readonly recorders: Map<string, RequestRecorder>;
}
const routeEntries = new WeakMap<CompiledRoute, RouteEntry>();

function routeEntry(snap: ListenerSnapshot, ctx: ListenerContext, route: CompiledRoute, deps: PolicyDeps): RouteEntry {
  const span = ctx.hooks?.span ?? null;
  let e = routeEntries.get(route);
  if (e === undefined || e.span !== span) {
    const policy = ctx.policy ?? NO_POLICY;
    const layers = policy.route({ listener: snap.listener, route }, deps);
    // The innermost step of every route stack: the cluster part of the stack for the backend this request was given.
    const toCluster: Service = (req) => clusterService(req.cluster!, policy, span, deps)(req);
    e = { service: stack(layers, toCluster), span, recorders: e?.recorders ?? new Map() };
    routeEntries.set(route, e);
  }
  return e;
}

function recorderFor(e: RouteEntry, snap: ListenerSnapshot, ctx: ListenerContext, route: CompiledRoute, cluster: UpstreamCluster | null): RequestRecorder {
  const name = cluster?.name ?? '';
  let r = e.recorders.get(name);
  if (r === undefined) {
    r = ctx.metrics.recorder(snap.listener, route.name, cluster);
    e.recorders.set(name, r);
  }
  return r;
}

function timeoutMs(req: ProxyRequest, route: CompiledRoute): number {
  const grpc = parseGrpcTimeout(req.clientHeaders['grpc-timeout']);
  const routeMs = route.config.timeoutMs;
  if (grpc !== null && routeMs > 0) return Math.min(grpc, routeMs);
  return grpc ?? (routeMs > 0 ? Math.min(routeMs, MAX_TIMER_MS) : 0);
}

/**
 * Finds the route. Outbound with a service table: the original destination's service (VIP:port) and its routes first; then
 * the listener's Host-based routes (whose catch-all is the pass-through when configured).
 */
export function pickRoute(snap: ListenerSnapshot, req: ProxyRequest): ProxyError | CompiledRoute {
  const path = req.path;
  const q = path.indexOf('?');
  const input = {
    authority: req.authority,
    method: req.method,
    path: q < 0 ? path : path.slice(0, q),
    query: q < 0 ? '' : path.slice(q + 1),
    headers: req.clientHeaders,
  };
  const services = snap.serviceRoutes;
  const dst = req.downstream.originalDst;
  if (services != null && dst !== null) {
    const route = services.lookup(dst)?.routes.route(input);
    if (route != null) return route;
  }
  return snap.routes.route(input) ?? new ProxyError(ERRORS.noRoute);
}

/** Picks the weighted backend of a forwarding route: its cluster, and the request header changes of that backend alone. */
export function pickCluster(snap: ListenerSnapshot, route: CompiledRoute): ProxyError | { readonly cluster: UpstreamCluster; readonly requestHeaders: HeaderMutationConfig | null } {
  const backend = route.pickBackend();
  const cluster = backend === null ? undefined : snap.clusters.get(backend.cluster);
  return cluster ? { cluster, requestHeaders: backend?.requestHeaders ?? null } : new ProxyError(ERRORS.noEndpoints, `cluster ${backend?.cluster ?? '(none)'}`);
}

/**
 * What a route changes on a request it forwards, after matching (the route matched the client's path and Host): its header
 * modifiers, the picked backend's, and its URL rewrite. Every request and every WebSocket upgrade goes through this.
 */
export function applyRouteChanges(req: ProxyRequest, route: CompiledRoute, backendHeaders: HeaderMutationConfig | null): void {
  applyHeaderMutation(req.headers, route.config.requestHeaders);
  if (backendHeaders !== null) applyHeaderMutation(req.headers, backendHeaders);
  const rewrite = route.config.rewrite;
  if (rewrite === null) return;
  if (rewrite.hostname !== null) req.authority = rewrite.hostname;
  if (route.rewritePath !== null) req.path = changePath(route.rewritePath, req.path);
}

/** The route stage of one listener snapshot: route -> (direct answer | that route's stack). */
export function routeStage(snap: ListenerSnapshot, ctx: ListenerContext, deps: PolicyDeps): Service {
  return (req) => {
    const route = pickRoute(snap, req);
    if (route instanceof ProxyError) return Promise.reject(route);
    req.route = route;
    const e = routeEntry(snap, ctx, route, deps);
    if (route.config.redirect !== null) {
      req.recorder = recorderFor(e, snap, ctx, route, null);
      return Promise.resolve(redirectResponse(req, route));
    }
    const direct = route.config.directResponse;
    if (direct !== null && route.config.backends.length === 0) {
      req.recorder = recorderFor(e, snap, ctx, route, null);
      const body = Buffer.from(direct.body);
      const headers: HeaderBag = Object.create(null);
      headers['content-length'] = String(body.length);
      return Promise.resolve(new ProxyResponse(direct.status, headers, body.length > 0 ? new FixedBody(body) : null));
    }
    const picked = pickCluster(snap, route);
    if (picked instanceof ProxyError) return Promise.reject(picked);
    const cluster = picked.cluster;
    req.cluster = cluster;
    req.recorder = recorderFor(e, snap, ctx, route, cluster);
    applyRouteChanges(req, route, picked.requestHeaders);
    const ms = timeoutMs(req, route);
    if (ms > 0) req.deadline = req.startedAt + ms;
    return e.service(req);
  };
}
