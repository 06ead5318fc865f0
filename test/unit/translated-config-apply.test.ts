// The control plane's real translation, sent as it is on the wire (JSON bodies, content-hash versions, deltas), applied by
// the proxy's one entry point over the sidecar bootstrap; then routing simulation on the result (no sockets): a Service's
// ClusterIP:port and Host forms reach its cluster and endpoints, anything else the pass-through. Both sides must agree.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { ProxyConfig } from '../../api/config/proxy-config.ts';
import type { WireResource } from '../../api/proto/config-discovery.ts';
import { makeSnapshot } from '../../control-plane/serving/proxy-snapshot.ts';
import { resourceDelta } from '../../control-plane/serving/resource-diff.ts';
import type { MeshInputs } from '../../control-plane/translation/mesh-inputs.ts';
import { clusterName, PASSTHROUGH_CLUSTER, translateProxy } from '../../control-plane/translation/translate-proxy.ts';
import { MeshTranslator } from '../../control-plane/translation/mesh-translator.ts';
import { MESH_IDENTITY_ANNOTATION } from '../../api/mesh/mesh-constants.ts';
import type { ChangeSet } from '../../proxy/config/change-set.ts';
import { ProxyError } from '../../proxy/errors/proxy-error.ts';
import { ProxyRuntime } from '../../proxy/proxy-runtime.ts';
import { sidecarConfigDocument } from '../../proxy/sidecar/sidecar-bootstrap.ts';
import { ProxyRequest, type DownstreamInfo } from '../../proxy/stack/proxy-request.ts';
import { pickCluster, pickRoute } from '../../proxy/stack/route.ts';
import { ProxyMetrics } from '../../proxy/telemetry/proxy-metrics.ts';

const service = (ns: string, name: string, ip: string, port: number, targetPort: number): V1Service => ({
  metadata: { namespace: ns, name },
  spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', port, targetPort, protocol: 'TCP' }] } as V1Service['spec'],
});
const slice = (ns: string, svc: string, ips: string[], port: number): V1EndpointSlice => ({
  metadata: { namespace: ns, name: `${svc}-abc`, labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
});

function bootstrap(): ProxyConfig {
  const doc = sidecarConfigDocument({ SKEIN_POD_NAME: 'web-1', SKEIN_POD_NAMESPACE: 'demo' });
  const parsed = parseProxyConfig({ ...doc, admin: { address: '127.0.0.1', port: 0 } });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return parsed.value;
}

/** A push as the proxy's client turns it into a change set: bodies parsed from their JSON bytes. */
function changeSet(version: string, resources: readonly WireResource[], removed: readonly { type: string; name: string }[] = []): ChangeSet {
  return {
    version,
    upserts: resources.map((r) => ({ type: r.type, name: r.name, version: r.version, body: JSON.parse(Buffer.from(r.body).toString('utf8')) as unknown })),
    removals: removed,
  };
}

function request(authority: string, originalDst: { address: string; port: number } | null, inbound?: { peer: string | null; method: string; path: string }): ProxyRequest {
  const downstream: DownstreamInfo = inbound
    ? { listener: 'inbound', direction: 'inbound', clientAddress: '10.244.0.9', clientPort: 1, tls: inbound.peer !== null, sni: null, peerIdentity: inbound.peer, originalDst }
    : { listener: 'outbound', direction: 'outbound', clientAddress: '127.0.0.1', clientPort: 1, tls: false, sni: null, peerIdentity: null, originalDst };
  return new ProxyRequest(inbound?.method ?? 'GET', authority, inbound?.path ?? '/', Object.create(null), null, downstream, false, 0);
}

const scope = { namespace: 'demo', outboundNamespaces: null };
const echo = clusterName('demo', 'echo', 80);

describe('translated config applied by the proxy', () => {
  it('routes a ClusterIP:port and the Host forms to the Service endpoints; an endpoint change rebuilds one balancer only', async () => {
    const runtime = new ProxyRuntime(bootstrap(), new ProxyMetrics());
    try {
      const inputs: MeshInputs = {
        services: [service('demo', 'echo', '10.96.0.10', 80, 8080), service('other', 'api', '10.96.0.11', 9090, 9090)],
        endpointSlices: [slice('demo', 'echo', ['10.244.0.5', '10.244.0.4'], 8080), slice('other', 'api', ['10.244.1.1'], 9090)],
        namespaces: [],
        // Every policy a TrafficPolicy can set: the proxy must take all of them as translation writes them.
        trafficPolicies: [
          {
            apiVersion: 'skein.dev/v1alpha1',
            kind: 'TrafficPolicy',
            metadata: { namespace: 'demo', name: 'echo', generation: 1, creationTimestamp: '2026-12-01T00:00:00Z' },
            spec: {
              targetRef: { kind: 'Service', name: 'echo' },
              retries: { attempts: 3, perTryTimeout: '500ms', retryOn: ['5xx', 'retriable-status-codes'], retriableStatusCodes: [503], allowNonIdempotent: true, budget: { retryRatio: 0.5, minRetriesPerSecond: 20 } },
              timeouts: { request: '2s', streamIdle: '1m' },
              circuitBreaker: { maxConnections: 10, maxPendingRequests: 5, maxRequests: 20, maxRetries: 3 },
              outlierDetection: { consecutive5xx: 3, interval: '1s', baseEjectionTime: '5s', maxEjectionPercent: 50 },
              loadBalancer: { algorithm: 'ring-hash', hashKey: { header: 'X-User' } },
              rateLimit: { requestsPerSecond: 50 },
              fault: { headerPresent: 'X-Chaos', abort: { grpcStatus: 'UNAVAILABLE', percent: 10 }, delay: { duration: '100ms', percent: 5 } },
              tracing: { samplingPercent: 1 },
            },
          },
        ],
      };
      const first = makeSnapshot(translateProxy(inputs, scope).resources);
      const outcome = await runtime.applyChangeSet(changeSet(first.version, [...first.resources.values()]));
      expect(outcome).toEqual({ ok: true });
      expect(runtime.version).toBe(first.version);

      const snap = runtime.snapshot('outbound')!;
      const routed = (authority: string, dst: { address: string; port: number } | null): string => {
        const route = pickRoute(snap, request(authority, dst));
        if (route instanceof ProxyError) return `error ${route.message}`;
        const cluster = pickCluster(snap, route);
        return cluster instanceof ProxyError ? `error ${cluster.message}` : cluster.cluster.name;
      };
      // By original destination, whatever the Host says.
      expect(routed('anything.example', { address: '10.96.0.10', port: 80 })).toBe(echo);
      expect(routed('anything.example', { address: '10.96.0.11', port: 9090 })).toBe(clusterName('other', 'api', 9090));
      // By Host when the destination is not a VIP.
      for (const host of ['echo', 'echo.demo', 'echo.demo.svc.cluster.local:80', '10.96.0.10']) expect(routed(host, null)).toBe(echo);
      expect(routed('api.other:9090', null)).toBe(clusterName('other', 'api', 9090));
      // Everything else goes where it was headed.
      expect(routed('example.com', { address: '93.184.216.34', port: 80 })).toBe(PASSTHROUGH_CLUSTER);
      const cluster = snap.clusters.get(echo)!;
      // The policies arrived as translated.
      expect(cluster.config.circuitBreaker?.maxRequests).toBe(20);
      expect(cluster.config.outlierDetection?.consecutive5xxErrors).toBe(3);
      const echoRoute = pickRoute(snap, request('echo', null));
      expect(echoRoute instanceof ProxyError ? null : echoRoute.config).toMatchObject({ timeoutMs: 2000, retries: { perTryTimeoutMs: 500, retryNonIdempotent: true }, rateLimit: { requestsPerSecond: 50 }, fault: { header: 'x-chaos', abort: { grpcStatus: 14 } } });
      expect(cluster.endpoints.map((e) => e.state.key).sort()).toEqual(['10.244.0.4:8080', '10.244.0.5:8080']);

      // A pod more behind echo: the delta the control plane would push holds echo's endpoint set only.
      const before = { ...runtime.counters };
      const next = makeSnapshot(translateProxy({ ...inputs, endpointSlices: [slice('demo', 'echo', ['10.244.0.4', '10.244.0.5', '10.244.0.6'], 8080), inputs.endpointSlices[1]!] }, scope).resources);
      const known = new Map([...first.resources].map(([k, r]) => [k, r.version]));
      const delta = resourceDelta(known, next);
      expect(delta.changed.map((r) => `${r.type}/${r.name}`)).toEqual([`endpoint-set/${echo}`]);
      expect(await runtime.applyChangeSet(changeSet(next.version, delta.changed, delta.removed))).toEqual({ ok: true });
      expect(runtime.counters).toEqual({ ...before, balancers: before.balancers + 1 });
      // The same snapshot, route tables and cluster object keep serving: only the balancer behind them changed.
      expect(runtime.snapshot('outbound')).toBe(snap);
      expect(snap.clusters.get(echo)).toBe(cluster);
      expect(cluster.endpoints.map((e) => e.state.key).sort()).toEqual(['10.244.0.4:8080', '10.244.0.5:8080', '10.244.0.6:8080']);

      // The Service removed: its cluster and routes go, the VIP falls back to the pass-through.
      const gone = makeSnapshot(translateProxy({ ...inputs, services: [inputs.services[1]!] }, scope).resources);
      const d2 = resourceDelta(new Map([...next.resources].map(([k, r]) => [k, r.version])), gone);
      expect(await runtime.applyChangeSet(changeSet(gone.version, d2.changed, d2.removed))).toEqual({ ok: true });
      const after = runtime.snapshot('outbound')!;
      expect(after.clusters.has(echo)).toBe(false);
      const route = pickRoute(after, request('x', { address: '10.96.0.10', port: 80 }));
      expect(route instanceof ProxyError ? route.message : route.name).toBe('passthrough');
    } finally {
      runtime.close();
    }
  });

  it('a TrafficPolicy change on one Service pushes that Service\'s virtual host alone; the proxy recompiles that host only', async () => {
    const runtime = new ProxyRuntime(bootstrap(), new ProxyMetrics());
    try {
      const policy = (request: string): MeshInputs['trafficPolicies'][number] => ({
        apiVersion: 'skein.dev/v1alpha1',
        kind: 'TrafficPolicy',
        metadata: { namespace: 'demo', name: 'echo', generation: 1, creationTimestamp: '2026-12-01T00:00:00Z' },
        spec: { targetRef: { kind: 'Service', name: 'echo' }, timeouts: { request } },
      });
      // Many Services, as a mesh has: the change must not cost in proportion to them.
      const others = Array.from({ length: 50 }, (_, i) => service('other', `api-${i}`, `10.96.1.${i}`, 9090, 9090));
      const inputs: MeshInputs = {
        services: [service('demo', 'echo', '10.96.0.10', 80, 8080), ...others],
        endpointSlices: [slice('demo', 'echo', ['10.244.0.5'], 8080), ...others.map((o, i) => slice('other', o.metadata!.name!, [`10.244.1.${i}`], 9090))],
        namespaces: [],
        trafficPolicies: [policy('2s')],
      };
      const first = makeSnapshot(translateProxy(inputs, scope).resources);
      expect(await runtime.applyChangeSet(changeSet(first.version, [...first.resources.values()]))).toEqual({ ok: true });
      const snap = runtime.snapshot('outbound')!;
      const api = pickRoute(snap, request('api-7.other:9090', null));
      const echoBefore = pickRoute(snap, request('echo', null));

      const next = makeSnapshot(translateProxy({ ...inputs, trafficPolicies: [policy('3s')] }, scope).resources);
      const delta = resourceDelta(new Map([...first.resources].map(([k, r]) => [k, r.version])), next);
      expect(delta.changed.map((r) => `${r.type}/${r.name}`)).toEqual([`virtual-host/${echo}`]);
      expect(delta.changed[0]!.body.length).toBeLessThan(2048);
      expect(await runtime.applyChangeSet(changeSet(next.version, delta.changed, delta.removed))).toEqual({ ok: true });

      const after = runtime.snapshot('outbound')!;
      const echoAfter = pickRoute(after, request('echo', null));
      expect(echoAfter instanceof ProxyError ? null : echoAfter.config.timeoutMs).toBe(3000);
      expect(echoAfter).not.toBe(echoBefore);
      // Every other Service keeps its compiled route (and with it its route stack), by Host and by ClusterIP:port.
      expect(pickRoute(after, request('api-7.other:9090', null))).toBe(api);
      expect(pickRoute(after, request('x', { address: '10.96.1.7', port: 9090 }))).toBe(api);
    } finally {
      runtime.close();
    }
  });

  it('the inbound listener the control plane pushes carries the workload\'s mTLS mode and authorization; denials are 403', async () => {
    const runtime = new ProxyRuntime(bootstrap(), new ProxyMetrics());
    try {
      const pod = { metadata: { namespace: 'demo', name: 'web-1', labels: { app: 'web' }, annotations: { [MESH_IDENTITY_ANNOTATION]: 'enabled' } }, spec: { serviceAccountName: 'web', containers: [] } };
      const t = new MeshTranslator(() => scope, null, { podOf: () => pod, defaults: { trustDomain: 'cluster.local', meshNamespace: 'skein-system', authorizationDefault: 'allow', mtlsMode: 'permissive' } });
      t.setInputs({
        services: [],
        endpointSlices: [],
        namespaces: [],
        trafficPolicies: [],
        meshTlsPolicies: [{ apiVersion: 'skein.dev/v1alpha1', kind: 'MeshTLSPolicy', metadata: { namespace: 'demo', name: 'web-strict-api' }, spec: { selector: { matchLabels: { app: 'web' } }, ports: [{ port: 9090, mode: 'Strict' }] } }],
        authorizationPolicies: [
          {
            apiVersion: 'skein.dev/v1alpha1',
            kind: 'AuthorizationPolicy',
            metadata: { namespace: 'demo', name: 'web-readers' },
            spec: { targetRef: { kind: 'ServiceAccount', name: 'web' }, rules: [{ from: [{ serviceAccounts: [{ name: 'api' }] }], to: [{ paths: [{ type: 'PathPrefix', value: '/api' }], methods: ['GET'] }] }] },
          },
        ],
      });
      const snap = t.snapshotFor({ id: 'web-1.demo', podName: 'web-1', namespace: 'demo', podIp: '', serviceAccount: 'web', mode: 'sidecar' });
      if (!snap.ok) throw new Error('no snapshot');
      expect(await runtime.applyChangeSet(changeSet(snap.value.version, [...snap.value.resources.values()]))).toEqual({ ok: true });
      const inbound = runtime.snapshot('inbound')!;
      expect(inbound.listener.mtls).toEqual({ mode: 'permissive', ports: [{ port: 9090, mode: 'strict' }] });
      const decide = (peer: string | null, method: string, path: string): string => {
        const e = inbound.authorize!(request('web', { address: '10.244.0.5', port: 8080 }, { peer, method, path }));
        return e === null ? 'allow' : `${e.spec.status} ${e.spec.cause} ${e.message.split(': ').pop()}`;
      };
      const api = 'spiffe://cluster.local/ns/demo/sa/api';
      expect(decide(api, 'GET', '/api/items?x=1')).toBe('allow');
      expect(decide(api, 'POST', '/api/items')).toBe('403 forbidden no-match');
      expect(decide(null, 'GET', '/api/items')).toBe('403 forbidden no-match');
      expect(decide(api, 'GET', '/api/%2e%2e/admin')).toBe('403 forbidden ambiguous-path');
      // Still the bootstrap's routing to the app: gRPC over HTTP/2 (gRPC servers speak nothing else), the rest over HTTP/1.1.
      const toApp = (contentType: string | null): string => {
        const req = request('web', { address: '10.244.0.5', port: 8080 }, { peer: api, method: 'POST', path: '/x' });
        if (contentType !== null) req.headers['content-type'] = contentType;
        const route = pickRoute(inbound, req);
        if (route instanceof ProxyError) return route.message;
        const c = pickCluster(inbound, route);
        return c instanceof ProxyError ? c.message : `${c.cluster.name} ${c.cluster.config.protocol}`;
      };
      expect(toApp('application/grpc')).toBe('inbound-app-h2 http2');
      expect(toApp('application/grpc+proto')).toBe('inbound-app-h2 http2');
      expect(toApp('application/grpc-web+proto')).toBe('inbound-app http1');
      expect(toApp('application/json')).toBe('inbound-app http1');
      expect(toApp(null)).toBe('inbound-app http1');
      expect(runtime.config.listeners.find((l) => l.name === 'inbound')!.virtualHosts[0]!.routes.map((r) => r.backends[0]!.cluster)).toEqual(['inbound-app-h2', 'inbound-app']);
    } finally {
      runtime.close();
    }
  });

  it("the inbound cluster the control plane pushes speaks HTTP/2 to the app's kubernetes.io/h2c ports (and only those)", async () => {
    const runtime = new ProxyRuntime(bootstrap(), new ProxyMetrics());
    try {
      const pod = { metadata: { namespace: 'demo', name: 'web-1', labels: { app: 'web' } }, spec: { containers: [] } };
      const t = new MeshTranslator(() => scope, null, { podOf: () => pod, defaults: { trustDomain: 'cluster.local', meshNamespace: 'skein-system', authorizationDefault: 'allow', mtlsMode: 'permissive' } });
      const h2cSlice: V1EndpointSlice = {
        metadata: { namespace: 'demo', name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 3000, protocol: 'TCP' }, { name: 'h2c', port: 3001, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' }],
        endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: 'demo', name: 'web-1' } }],
      };
      t.setInputs({ services: [], endpointSlices: [h2cSlice], namespaces: [], trafficPolicies: [] });
      const snap = t.snapshotFor({ id: 'web-1.demo', podName: 'web-1', namespace: 'demo', podIp: '', serviceAccount: 'web', mode: 'sidecar' });
      if (!snap.ok) throw new Error('no snapshot');
      expect(await runtime.applyChangeSet(changeSet(snap.value.version, [...snap.value.resources.values()]))).toEqual({ ok: true });
      const app = runtime.config.clusters.find((c) => c.name === 'inbound-app')!;
      expect([app.type, app.originalDestinationAddress, app.protocol, app.http2Ports]).toEqual(['original-destination', '127.0.0.1', 'http1', [3001]]);
      // Without the h2c port, the same cluster goes back to HTTP/1.1 everywhere.
      t.setInputs({ services: [], endpointSlices: [{ ...h2cSlice, ports: [h2cSlice.ports![0]!] }], namespaces: [], trafficPolicies: [] });
      const again = t.snapshotFor({ id: 'web-1.demo', podName: 'web-1', namespace: 'demo', podIp: '', serviceAccount: 'web', mode: 'sidecar' });
      if (!again.ok) throw new Error('no snapshot');
      expect(await runtime.applyChangeSet(changeSet(again.value.version, [...again.value.resources.values()]))).toEqual({ ok: true });
      expect(runtime.config.clusters.find((c) => c.name === 'inbound-app')!.http2Ports).toBeUndefined();
    } finally {
      runtime.close();
    }
  });
});
