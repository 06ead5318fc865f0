// GAMMA translation: HTTPRoutes and GRPCRoutes whose parent is a Service in, the proxy's routes for that Service port out
// (matches, precedence, weights, filters, timeouts, TrafficPolicy on top), invalid references with their reasons,
// producer and consumer routes, and the route status the Lease holder writes.
import type { V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { ClusterConfig, RouteConfig } from '../../api/config/proxy-config.ts';
import { SKEIN_CONTROLLER_NAME, type GRPCRoute, type HTTPRoute } from '../../api/crd/gateway-api.ts';
import type { TrafficPolicy } from '../../api/crd/traffic-policy.ts';
import { routeStatusUpdates } from '../status/desired-status.ts';
import type { MeshInputs } from './mesh-inputs.ts';
import { clusterName, outboundVirtualHosts, translateProxy } from './translate-proxy.ts';

const svc = (ns: string, name: string, ports: number[], annotations?: Record<string, string>): V1Service => ({
  metadata: { namespace: ns, name, annotations },
  spec: { clusterIP: '10.96.0.10', ports: ports.map((port) => ({ port, name: `http-${port}` })) },
});
const parent = { group: '', kind: 'Service', name: 'echo', port: 80 };
function http(name: string, rules: NonNullable<HTTPRoute['spec']['rules']>, opts: { ns?: string; parents?: HTTPRoute['spec']['parentRefs']; created?: string; status?: HTTPRoute['status'] } = {}): HTTPRoute {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { namespace: opts.ns ?? 'demo', name, generation: 3, creationTimestamp: opts.created ?? '2026-12-01T00:00:00Z' },
    spec: { parentRefs: opts.parents ?? [parent], rules },
    ...(opts.status ? { status: opts.status } : {}),
  };
}
const services = [svc('demo', 'echo', [80]), svc('demo', 'echo-v1', [8080]), svc('demo', 'echo-v2', [8080]), svc('demo', 'shadow', [8080]), svc('other', 'far', [80])];
const inputs = (httpRoutes: HTTPRoute[], grpcRoutes: GRPCRoute[] = [], trafficPolicies: TrafficPolicy[] = [], extra: V1Service[] = []): MeshInputs => ({
  services: [...services, ...extra],
  endpointSlices: [],
  namespaces: [],
  trafficPolicies,
  httpRoutes,
  grpcRoutes,
});
const v1 = clusterName('demo', 'echo-v1', 8080);
const v2 = clusterName('demo', 'echo-v2', 8080);

function routesOf(ins: MeshInputs, client = 'demo', ns = 'demo', name = 'echo', port = 80): { routes: RouteConfig[]; clusters: string[] } {
  const t = translateProxy(ins, { namespace: client, outboundNamespaces: null });
  const vh = outboundVirtualHosts(t.resources).find((v) => v.name === clusterName(ns, name, port))!;
  return { routes: [...vh.routes], clusters: t.resources.filter((r) => r.type === 'cluster').map((r) => (r.body as ClusterConfig).name) };
}

describe('GAMMA HTTPRoute translation', () => {
  it('matches on path, headers, query and method, in Gateway API precedence, with weighted backends', () => {
    const route = http('echo', [
      { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'echo-v1', port: 8080, weight: 90 }, { name: 'echo-v2', port: 8080, weight: 10 }] },
      {
        matches: [
          { path: { type: 'Exact', value: '/exact' }, headers: [{ name: 'X-Canary', value: 'yes' }] },
          { path: { type: 'PathPrefix', value: '/api/v2' }, method: 'post', queryParams: [{ type: 'RegularExpression', name: 'debug', value: '1|true' }] },
        ],
        backendRefs: [{ name: 'echo-v2', port: 8080 }],
      },
    ]);
    const { routes, clusters } = routesOf(inputs([route]));
    expect(routes.map((r) => r.name)).toEqual(['httproute/demo/echo/rule1/match0', 'httproute/demo/echo/rule1/match1', 'httproute/demo/echo/rule0/match0']);
    expect(routes[0]!.match).toEqual({ path: { type: 'exact', value: '/exact' }, methods: [], headers: [{ name: 'x-canary', type: 'exact', value: 'yes', invert: false }], query: [] });
    expect(routes[1]!.match).toEqual({ path: { type: 'prefix', value: '/api/v2' }, methods: ['POST'], headers: [], query: [{ name: 'debug', type: 'regex', value: '1|true' }] });
    expect(routes[2]!.backends).toEqual([{ cluster: v1, weight: 90 }, { cluster: v2, weight: 10 }]);
    // the backends' clusters come with the route
    expect(clusters).toEqual(expect.arrayContaining([v1, v2]));
  });

  it('carries header modifiers, redirects, rewrites, mirrors and timeouts', () => {
    const route = http('echo', [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
        filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'new.example', statusCode: 301, path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } } }],
      },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/app' } }],
        filters: [
          { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Env', value: 'prod' }], add: [{ name: 'X-Trace', value: '1' }], remove: ['X-Debug'] } },
          { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-Served-By', value: 'mesh' }] } },
          { type: 'URLRewrite', urlRewrite: { hostname: 'internal.echo', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } },
          { type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 8080 }, fraction: { numerator: 1, denominator: 4 } } },
        ],
        backendRefs: [{ name: 'echo-v1', port: 8080 }],
        timeouts: { request: '3s', backendRequest: '1s' },
      },
    ]);
    const { routes, clusters } = routesOf(inputs([route]));
    const [redirect, app] = [routes.find((r) => r.name.endsWith('rule0/match0'))!, routes.find((r) => r.name.endsWith('rule1/match0'))!];
    expect(redirect.redirect).toEqual({ scheme: 'https', hostname: 'new.example', port: null, statusCode: 301, path: { type: 'prefix', value: '/new' } });
    expect(redirect.backends).toEqual([]);
    expect(redirect.directResponse).toBeNull();
    expect(app.requestHeaders).toEqual({ set: { 'x-env': 'prod' }, add: { 'x-trace': '1' }, remove: ['x-debug'] });
    expect(app.responseHeaders).toEqual({ set: { 'x-served-by': 'mesh' }, add: {}, remove: [] });
    expect(app.rewrite).toEqual({ hostname: 'internal.echo', path: { type: 'prefix', value: '/' } });
    expect(app.mirrors).toEqual([{ cluster: clusterName('demo', 'shadow', 8080), percent: 25, maxBodyBytes: 65_536 }]);
    expect(app.timeoutMs).toBe(3000);
    expect(clusters).toContain(clusterName('demo', 'shadow', 8080));
  });

  it("a backendRef's RequestHeaderModifier applies to that backend alone, after the rule's", () => {
    const route = http('echo', [
      {
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Rule', value: 'r' }] } }],
        backendRefs: [
          { name: 'echo-v1', port: 8080, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Header-Set', value: 'v1' }], add: [{ name: 'X-Add', value: 'a' }], remove: ['X-Gone'] } }] },
          { name: 'echo-v2', port: 8080 },
        ],
      },
    ]);
    const [r] = routesOf(inputs([route])).routes;
    expect(r!.requestHeaders).toEqual({ set: { 'x-rule': 'r' }, add: {}, remove: [] });
    expect(r!.backends).toEqual([
      { cluster: v1, weight: 1, requestHeaders: { set: { 'x-header-set': 'v1' }, add: { 'x-add': 'a' }, remove: ['x-gone'] } },
      { cluster: v2, weight: 1 },
    ]);
  });

  it('a TrafficPolicy on the Service applies to its routes; the route\'s own timeout wins', () => {
    const policy: TrafficPolicy = {
      apiVersion: 'skein.dev/v1alpha1',
      kind: 'TrafficPolicy',
      metadata: { namespace: 'demo', name: 'p', generation: 1, creationTimestamp: '2026-12-01T00:00:00Z' },
      spec: { targetRef: { kind: 'Service', name: 'echo' }, retries: { attempts: 3, perTryTimeout: '2s' }, timeouts: { request: '5s' }, rateLimit: { requestsPerSecond: 10 } },
    };
    const route = http('echo', [
      { matches: [{ path: { type: 'PathPrefix', value: '/fast' } }], backendRefs: [{ name: 'echo-v1', port: 8080 }], timeouts: { request: '1s' } },
      { backendRefs: [{ name: 'echo-v1', port: 8080 }] },
    ]);
    const { routes } = routesOf(inputs([route], [], [policy]));
    expect(routes.map((r) => [r.timeoutMs, r.retries?.attempts, r.retries?.perTryTimeoutMs, r.rateLimit?.requestsPerSecond])).toEqual([
      [1000, 2, 1000, 10],
      [5000, 2, 2000, 10],
    ]);
  });

  it("a rule's own retry (HTTPRoute retry) wins over the TrafficPolicy's; the policy's other sections still apply", () => {
    const policy: TrafficPolicy = {
      apiVersion: 'skein.dev/v1alpha1',
      kind: 'TrafficPolicy',
      metadata: { namespace: 'demo', name: 'p', generation: 1, creationTimestamp: '2026-12-01T00:00:00Z' },
      spec: { targetRef: { kind: 'Service', name: 'echo' }, retries: { attempts: 3, perTryTimeout: '2s' }, rateLimit: { requestsPerSecond: 10 } },
    };
    const route = http('echo', [
      { matches: [{ path: { type: 'PathPrefix', value: '/own' } }], backendRefs: [{ name: 'echo-v1', port: 8080 }], retry: { codes: [500], attempts: 4 }, timeouts: { backendRequest: '300ms' } },
      { backendRefs: [{ name: 'echo-v1', port: 8080 }] },
    ]);
    const { routes } = routesOf(inputs([route], [], [policy]));
    expect(routes.map((r) => [r.match.path?.value, r.retries?.attempts, r.retries?.retriableStatusCodes, r.retries?.perTryTimeoutMs, r.rateLimit?.requestsPerSecond])).toEqual([
      ['/own', 4, [500], 300, 10],
      ['/', 2, [503], 2000, 10],
    ]);
  });

  it('invalid references: ResolvedRefs false with its reason, the rule answers 500, the valid part still routes', () => {
    const route = http('echo', [
      { matches: [{ path: { type: 'PathPrefix', value: '/gone' } }], backendRefs: [{ name: 'nope', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/far' } }], backendRefs: [{ name: 'far', namespace: 'other', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/kind' } }], backendRefs: [{ group: 'apps', kind: 'Deployment', name: 'echo-v1', port: 8080 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/half' } }], backendRefs: [{ name: 'nope', port: 80 }, { name: 'echo-v1', port: 8080 }] },
    ]);
    const { routes } = routesOf(inputs([route]));
    const byPrefix = (p: string) => routes.find((r) => r.match.path?.value === p)!;
    for (const p of ['/gone', '/far', '/kind']) {
      expect(byPrefix(p).backends).toEqual([]);
      expect(byPrefix(p).directResponse?.status).toBe(500);
    }
    expect(byPrefix('/half').backends).toEqual([{ cluster: v1, weight: 1 }]);
    const [u] = routeStatusUpdates(inputs([route]), Date.parse('2026-12-06T08:00:00Z'));
    const parents = u!.status.parents as { controllerName: string; conditions: { type: string; status: string; reason: string; message: string }[] }[];
    expect(parents).toHaveLength(1);
    expect(parents[0]!.controllerName).toBe(SKEIN_CONTROLLER_NAME);
    expect(parents[0]!.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Accepted', 'True', 'Accepted'],
      ['ResolvedRefs', 'False', 'BackendNotFound'],
    ]);
    expect(parents[0]!.conditions[1]!.message).toBe(
      'backendRef Service demo/nope not found; backendRef Service other/far: cross-namespace references are not permitted (ReferenceGrant is not supported in the mesh); backendRef apps/Deployment echo-v1: only core Services are supported; backendRef Service demo/nope not found',
    );
    const refused = routeStatusUpdates(inputs([http('x', [{ backendRefs: [{ name: 'far', namespace: 'other', port: 80 }] }])]), 0)[0]!;
    expect((refused.status.parents as { conditions: { reason: string }[] }[])[0]!.conditions[1]!.reason).toBe('RefNotPermitted');
  });

  it('a parent Service or port that does not exist: Accepted false, NoMatchingParent', () => {
    const route = http('echo', [{ backendRefs: [{ name: 'echo-v1', port: 8080 }] }], { parents: [{ group: '', kind: 'Service', name: 'missing' }, { group: '', kind: 'Service', name: 'echo', port: 81 }] });
    const [u] = routeStatusUpdates(inputs([route]), 0);
    const parents = u!.status.parents as { parentRef: { name: string }; conditions: { type: string; reason: string; message: string }[] }[];
    expect(parents.map((p) => [p.parentRef.name, p.conditions[0]!.reason, p.conditions[0]!.message])).toEqual([
      ['missing', 'NoMatchingParent', 'Service demo/missing not found'],
      ['echo', 'NoMatchingParent', 'Service demo/echo has no port 81'],
    ]);
    expect(routesOf(inputs([route])).routes.map((r) => r.name)).toEqual(['default']);
  });

  it('producer routes serve every caller; a consumer route serves its own namespace, in their place', () => {
    const producer = http('producer', [{ backendRefs: [{ name: 'echo-v1', port: 8080 }] }]);
    const consumer = http('consumer', [{ backendRefs: [{ name: 'client-echo', port: 80 }] }], { ns: 'client', parents: [{ ...parent, namespace: 'demo' }] });
    const extra = [svc('client', 'client-echo', [80])];
    const fromDemo = routesOf(inputs([producer, consumer], [], [], extra), 'demo').routes;
    const fromClient = routesOf(inputs([producer, consumer], [], [], extra), 'client').routes;
    const fromThird = routesOf(inputs([producer, consumer], [], [], extra), 'third').routes;
    expect(fromDemo.map((r) => r.name)).toEqual(['httproute/demo/producer/rule0/match0']);
    expect(fromThird.map((r) => r.name)).toEqual(['httproute/demo/producer/rule0/match0']);
    expect(fromClient.map((r) => r.name)).toEqual(['httproute/client/consumer/rule0/match0']);
    expect(fromClient[0]!.backends).toEqual([{ cluster: clusterName('client', 'client-echo', 80), weight: 1 }]);
  });

  it('a consumer route may send to the Service it attaches to in its namespace (no ReferenceGrant), to no other Service there', () => {
    const toParent = http('to-parent', [{ backendRefs: [{ name: 'echo', namespace: 'demo', port: 80 }] }], { ns: 'client', parents: [{ group: '', kind: 'Service', name: 'echo', namespace: 'demo' }] });
    const toOther = http('to-other', [{ backendRefs: [{ name: 'echo-v1', namespace: 'demo', port: 8080 }] }], { ns: 'client', parents: [{ group: '', kind: 'Service', name: 'echo', namespace: 'demo' }] });
    expect(routesOf(inputs([toParent]), 'client').routes[0]!.backends).toEqual([{ cluster: clusterName('demo', 'echo', 80), weight: 1 }]);
    const [ok, refused] = routeStatusUpdates(inputs([toParent, toOther]), 0);
    const reasons = (u: typeof ok) => (u!.status.parents as { conditions: { reason: string }[] }[])[0]!.conditions.map((c) => c.reason);
    expect([ok!.name, reasons(ok)]).toEqual(['to-parent', ['Accepted', 'ResolvedRefs']]);
    expect([refused!.name, reasons(refused)]).toEqual(['to-other', ['Accepted', 'RefNotPermitted']]);
  });

  it('routes whose parent is a Gateway are left alone; a Service without routes keeps its default route', () => {
    const gw = http('gw', [{ backendRefs: [{ name: 'echo-v1', port: 8080 }] }], { parents: [{ name: 'edge' }] });
    expect(routesOf(inputs([gw])).routes.map((r) => r.name)).toEqual(['default']);
    expect(routeStatusUpdates(inputs([gw]), 0)).toEqual([]);
  });

  it('route status keeps other controllers\' entries and is written only when it changes', () => {
    const foreign = { parentRef: { name: 'edge' }, controllerName: 'example.com/gateway', conditions: [] };
    const route = http('echo', [{ backendRefs: [{ name: 'echo-v1', port: 8080 }] }], { status: { parents: [foreign] } });
    const [u] = routeStatusUpdates(inputs([route]), Date.parse('2026-12-06T08:00:00Z'));
    const parents = u!.status.parents as unknown[];
    expect(parents[0]).toEqual(foreign);
    expect(parents).toHaveLength(2);
    const written = { ...route, status: u!.status as HTTPRoute['status'] };
    expect(routeStatusUpdates(inputs([written]), Date.parse('2026-12-06T09:00:00Z'))).toEqual([]);
  });
});

describe('GAMMA GRPCRoute translation', () => {
  it('matches a method exactly, a whole service, or a method of any service, plus headers', () => {
    const route: GRPCRoute = {
      kind: 'GRPCRoute',
      metadata: { namespace: 'demo', name: 'grpc', generation: 1 },
      spec: {
        parentRefs: [parent],
        rules: [
          { matches: [{ method: { service: 'echo.Echo', method: 'Say' }, headers: [{ name: 'x-v', value: '2' }] }], backendRefs: [{ name: 'echo-v2', port: 8080 }] },
          { matches: [{ method: { service: 'echo.Echo' } }, { method: { method: 'Ping' } }], backendRefs: [{ name: 'echo-v1', port: 8080 }] },
        ],
      },
    };
    const { routes } = routesOf(inputs([], [route]));
    expect(routes.map((r) => [r.match.path, r.match.headers.length, r.backends[0]!.cluster])).toEqual([
      [{ type: 'exact', value: '/echo.Echo/Say' }, 1, v2],
      [{ type: 'prefix', value: '/echo.Echo' }, 0, v1],
      [{ type: 'regex', value: '/[^/]+/Ping' }, 0, v1],
    ]);
  });
});
