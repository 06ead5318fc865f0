// Translation: Kubernetes objects in, one proxy's resources out: ClusterIP routing, Host forms, ready endpoints,
// headless and ExternalName Services, scoping (export-to, outbound namespaces), invalid objects, purity.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { MeshInputs } from './mesh-inputs.ts';
import { parseNamespaceList } from './mesh-inputs.ts';
import { MeshTranslator } from './mesh-translator.ts';
import { ServicePortMemo } from './service-port-memo.ts';
import { clusterName, clustersWithEndpoints, outboundVirtualHosts, outboundVips, PASSTHROUGH_CLUSTER, translateProxy } from './translate-proxy.ts';

function service(ns: string, name: string, ports: { port: number; name?: string; appProtocol?: string; protocol?: string }[], extra: Partial<V1Service['spec']> = {}, annotations?: Record<string, string>): V1Service {
  return { metadata: { namespace: ns, name, annotations }, spec: { clusterIP: '10.96.0.10', ports, ...extra } };
}
function slice(ns: string, svc: string, name: string, ports: { name?: string; port: number }[], endpoints: { ip: string; ready?: boolean }[], addressType = 'IPv4'): V1EndpointSlice {
  return {
    metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': svc } },
    addressType,
    ports: ports.map((p) => ({ ...p, protocol: 'TCP' })),
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: e.ready === undefined ? {} : { ready: e.ready } })),
  };
}
const inputs = (services: V1Service[], endpointSlices: V1EndpointSlice[] = []): MeshInputs => ({ services, endpointSlices, namespaces: [], trafficPolicies: [], httpRoutes: [], grpcRoutes: [] });
const everywhere = (ns: string) => ({ namespace: ns, outboundNamespaces: null });

function outputs(t: ReturnType<typeof translateProxy>) {
  const clusters = clustersWithEndpoints(t.resources);
  return { clusters, vhosts: outboundVirtualHosts(t.resources), vips: outboundVips(t.resources) };
}

describe('translateProxy', () => {
  const echo = service('demo', 'echo', [{ port: 80, name: 'http' }, { port: 9090, name: 'grpc' }]);
  const echoSlice = slice('demo', 'echo', 'echo-abc', [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9000 }], [{ ip: '10.244.0.5' }, { ip: '10.244.0.4', ready: true }, { ip: '10.244.0.9', ready: false }]);

  it('routes a Service port by its ClusterIP:port and every Host form, to its ready endpoints', () => {
    const { clusters, vhosts, vips } = outputs(translateProxy(inputs([echo], [echoSlice]), everywhere('demo')));
    const http = clusters.find((c) => c.name === clusterName('demo', 'echo', 80))!;
    expect(http.endpoints).toEqual([
      { address: '10.244.0.4', port: 8080, weight: 1 },
      { address: '10.244.0.5', port: 8080, weight: 1 },
    ]);
    expect(http.protocol).toBe('http1');
    expect(clusters.find((c) => c.name === clusterName('demo', 'echo', 9090))!.protocol).toBe('http2');
    const vh = vhosts.find((v) => v.name === http.name)!;
    expect(vh.domains).toEqual([
      'echo', 'echo:80', 'echo.demo', 'echo.demo:80', 'echo.demo.svc', 'echo.demo.svc:80',
      'echo.demo.svc.cluster.local', 'echo.demo.svc.cluster.local:80', '10.96.0.10:80', '10.96.0.10',
    ]);
    expect(vhosts.find((v) => v.name === clusterName('demo', 'echo', 9090))!.domains).toEqual([
      'echo:9090', 'echo.demo:9090', 'echo.demo.svc:9090', 'echo.demo.svc.cluster.local:9090', '10.96.0.10:9090',
    ]);
    expect(vh.routes[0]!.backends).toEqual([{ cluster: http.name, weight: 1 }]);
    expect(vips).toEqual([
      { address: '10.96.0.10', port: 80, virtualHost: http.name },
      { address: '10.96.0.10', port: 9090, virtualHost: clusterName('demo', 'echo', 9090) },
    ]);
    // Everything else passes through: the table's own virtual host, the only one with a wildcard (so order cannot matter).
    expect(vhosts.map((v) => v.domains.includes('*'))).toEqual([true, false, false]);
    expect(vhosts[0]).toMatchObject({ domains: ['*'], routes: [{ backends: [{ cluster: PASSTHROUGH_CLUSTER }] }] });
  });

  it('meshed endpoints carry their pod\'s identity and make the cluster mTLS; other endpoints stay plain', () => {
    const echo = service('demo', 'echo', [{ port: 80, name: 'http' }]);
    const s = slice('demo', 'echo', 'echo-abc', [{ name: 'http', port: 8080 }], [{ ip: '10.244.0.4' }, { ip: '10.244.0.5' }]);
    s.endpoints![0]!.targetRef = { kind: 'Pod', name: 'echo-1', namespace: 'demo' };
    s.endpoints![1]!.targetRef = { kind: 'Pod', name: 'echo-2', namespace: 'demo' };
    const identities = new Map([['demo/echo-1', 'spiffe://cluster.local/ns/demo/sa/echo']]);
    const meshed = outputs(translateProxy({ ...inputs([echo], [s]), endpointIdentities: identities }, everywhere('demo'))).clusters[0]!;
    expect(meshed.meshTls).toEqual({ identity: null });
    expect(meshed.endpoints.map((e) => [e.address, e.identity ?? null])).toEqual([['10.244.0.4', 'spiffe://cluster.local/ns/demo/sa/echo'], ['10.244.0.5', null]]);
    const plain = outputs(translateProxy(inputs([echo], [s]), everywhere('demo'))).clusters[0]!;
    expect(plain.meshTls ?? null).toBeNull();
    expect(plain.endpoints.every((e) => (e.identity ?? null) === null)).toBe(true);
  });

  it('names the destination for the caller\'s metrics: the Service and namespace on the cluster, each pod\'s workload on its endpoint', () => {
    const s = slice('demo', 'echo', 'echo-abc', [{ name: 'http', port: 8080 }], [{ ip: '10.244.0.4' }, { ip: '10.244.0.5' }]);
    s.endpoints![0]!.targetRef = { kind: 'Pod', name: 'echo-6d58f68b75-w6fn9', namespace: 'demo' };
    const c = outputs(translateProxy(inputs([service('demo', 'echo', [{ port: 80, name: 'http' }])], [s]), everywhere('demo'))).clusters[0]!;
    expect(c.destination).toEqual({ service: 'echo.demo', namespace: 'demo' });
    expect(c.endpoints.map((e) => [e.address, e.destination ?? null])).toEqual([['10.244.0.4', { workload: 'echo' }], ['10.244.0.5', null]]);
  });

  it('gives the bare name only to proxies of the Service namespace', () => {
    const { vhosts } = outputs(translateProxy(inputs([echo], [echoSlice]), everywhere('other')));
    const domains = vhosts.find((v) => v.name === clusterName('demo', 'echo', 80))!.domains;
    expect(domains).not.toContain('echo');
    expect(domains).not.toContain('echo:80');
    expect(domains).toContain('echo.demo');
  });

  it('leaves headless and ExternalName Services to pass-through, and skips UDP ports', () => {
    const headless = service('demo', 'db', [{ port: 5432 }], { clusterIP: 'None' });
    const ext = service('demo', 'ext', [{ port: 443 }], { type: 'ExternalName', externalName: 'example.com', clusterIP: undefined });
    const dns = service('demo', 'dns', [{ port: 53, protocol: 'UDP' }, { port: 53, name: 'tcp', protocol: 'TCP' }]);
    const { clusters, vips } = outputs(translateProxy(inputs([headless, ext, dns]), everywhere('demo')));
    expect(clusters.map((c) => c.name)).toEqual([clusterName('demo', 'dns', 53)]);
    expect(vips).toHaveLength(1);
  });

  it('joins several EndpointSlices of one Service and drops duplicates and FQDN slices', () => {
    const s2 = slice('demo', 'echo', 'echo-def', [{ name: 'http', port: 8080 }], [{ ip: '10.244.0.5' }, { ip: '10.244.0.6' }]);
    const fqdn = slice('demo', 'echo', 'echo-fqdn', [{ name: 'http', port: 8080 }], [{ ip: 'echo.example.com' }], 'FQDN');
    const { clusters } = outputs(translateProxy(inputs([echo], [echoSlice, s2, fqdn]), everywhere('demo')));
    expect(clusters.find((c) => c.name === clusterName('demo', 'echo', 80))!.endpoints.map((e) => e.address)).toEqual(['10.244.0.4', '10.244.0.5', '10.244.0.6']);
  });

  it('scopes by export-to and by the workload narrowing its outbound namespaces', () => {
    const privateSvc = service('team-a', 'internal', [{ port: 80 }], {}, { 'skein.dev/export-to': '.' });
    const shared = service('team-b', 'api', [{ port: 80 }], {}, { 'skein.dev/export-to': 'team-a, team-c' });
    const open = service('team-c', 'web', [{ port: 80 }]);
    const names = (ns: string, outbound: readonly string[] | null) =>
      outputs(translateProxy(inputs([privateSvc, shared, open]), { namespace: ns, outboundNamespaces: outbound })).clusters.map((c) => c.name.split(':')[2]);
    expect(names('team-a', null)).toEqual(['internal.team-a.svc.cluster.local', 'api.team-b.svc.cluster.local', 'web.team-c.svc.cluster.local']);
    expect(names('team-b', null)).toEqual(['web.team-c.svc.cluster.local']);
    expect(names('team-a', parseNamespaceList('., team-c', 'team-a'))).toEqual(['internal.team-a.svc.cluster.local', 'web.team-c.svc.cluster.local']);
    // narrowing never widens: team-b may not call team-a's private Service even when it lists team-a
    expect(names('team-b', ['team-a'])).toEqual([]);
  });

  it('reports invalid objects and keeps translating the rest', () => {
    const bad = service('demo', 'Bad_Name', [{ port: 80 }]);
    const badPort = service('demo', 'big', [{ port: 70000, name: 'x' }, { port: 81, name: 'ok' }]);
    const badSlice = slice('demo', 'echo', 'echo-bad', [{ name: 'http', port: 8080 }], [{ ip: '999.1.1.1' }, { ip: '10.244.0.7' }]);
    const t = translateProxy(inputs([bad, badPort, echo], [badSlice]), everywhere('demo'));
    expect(t.problems).toEqual([
      { object: 'Service demo/Bad_Name', message: 'namespace and name must be DNS labels' },
      { object: 'Service demo/big', message: 'port x is out of range' },
      { object: 'EndpointSlice demo/echo-bad', message: 'address "999.1.1.1" is not an IPv4 address' },
    ]);
    const { clusters } = outputs(t);
    expect(clusters.map((c) => c.name)).toEqual([clusterName('demo', 'big', 81), clusterName('demo', 'echo', 80), clusterName('demo', 'echo', 9090)]);
    expect(clusters.find((c) => c.name === clusterName('demo', 'echo', 80))!.endpoints).toEqual([{ address: '10.244.0.7', port: 8080, weight: 1 }]);
  });

  it('an endpoint change alters only the endpoint sets: clusters, route table and ClusterIP table stay byte for byte', () => {
    const before = translateProxy(inputs([echo], [echoSlice]), everywhere('demo')).resources;
    const moved = slice('demo', 'echo', 'echo-abc', [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9000 }], [{ ip: '10.244.0.5' }, { ip: '10.244.0.8' }]);
    const after = translateProxy(inputs([echo], [moved]), everywhere('demo')).resources;
    const changed = after.filter((r) => JSON.stringify(r.body) !== JSON.stringify(before.find((b) => b.type === r.type && b.name === r.name)?.body));
    expect(changed.map((r) => `${r.type}/${r.name}`).sort()).toEqual([`endpoint-set/${clusterName('demo', 'echo', 80)}`, `endpoint-set/${clusterName('demo', 'echo', 9090)}`]);
    expect(after.map((r) => `${r.type}/${r.name}`)).toEqual(before.map((r) => `${r.type}/${r.name}`));
  });

  it('is pure: the same inputs give the same output, and the inputs are untouched', () => {
    const ins = inputs([echo], [echoSlice]);
    const before = JSON.stringify(ins);
    const a = JSON.stringify(translateProxy(ins, everywhere('demo')));
    const b = JSON.stringify(translateProxy(inputs([echo], [echoSlice]), everywhere('demo')));
    expect(a).toBe(b);
    expect(JSON.stringify(ins)).toBe(before);
  });
});

describe('translateProxy with a memo', () => {
  const echo = service('demo', 'echo', [{ port: 80 }]);
  const api = service('other', 'api', [{ port: 80 }, { port: 9090 }]);
  const echoSlice = slice('demo', 'echo', 'echo-a', [{ port: 8080 }], [{ ip: '10.244.0.5' }]);
  const policy = (request: string): MeshInputs['trafficPolicies'][number] => ({
    apiVersion: 'skein.dev/v1alpha1',
    kind: 'TrafficPolicy',
    metadata: { namespace: 'demo', name: 'p', generation: 1, creationTimestamp: '2026-12-01T00:00:00Z' },
    spec: { targetRef: { kind: 'Service', name: 'echo' }, timeouts: { request } },
  });
  /** Resources as the proxy reads them: bodies decoded where the memo encoded them. */
  const decoded = (t: ReturnType<typeof translateProxy>) =>
    new Map(t.resources.map((r) => [`${r.type}/${r.name}`, r.body instanceof Uint8Array ? (JSON.parse(Buffer.from(r.body).toString()) as unknown) : JSON.parse(JSON.stringify(r.body))]));

  it('gives what translation gives without it, and translates again only the Service ports whose inputs changed', () => {
    const memo = new ServicePortMemo();
    const first: MeshInputs = { ...inputs([echo, api], [echoSlice]), trafficPolicies: [policy('2s')] };
    expect(decoded(translateProxy(first, everywhere('demo'), memo))).toEqual(decoded(translateProxy(first, everywhere('demo'))));
    expect([memo.misses, memo.hits]).toEqual([3, 0]);
    // Another namespace's callers: echo's Host forms differ there (no bare name), api's do not.
    expect(decoded(translateProxy(first, everywhere('third'), memo))).toEqual(decoded(translateProxy(first, everywhere('third'))));
    expect([memo.misses, memo.hits]).toEqual([4, 2]);
    // The policy on echo changes: echo alone is translated again.
    const second = { ...first, trafficPolicies: [policy('3s')] };
    const t = translateProxy(second, everywhere('demo'), memo);
    expect([memo.misses, memo.hits]).toEqual([5, 4]);
    expect(decoded(t)).toEqual(decoded(translateProxy(second, everywhere('demo'))));
    // A new EndpointSlice object for echo (ingestion replaces an object that changed): echo again, alone.
    const third = { ...second, endpointSlices: [slice('demo', 'echo', 'echo-a', [{ port: 8080 }], [{ ip: '10.244.0.6' }])] };
    expect(decoded(translateProxy(third, everywhere('demo'), memo))).toEqual(decoded(translateProxy(third, everywhere('demo'))));
    expect([memo.misses, memo.hits]).toEqual([6, 6]);
    // So do the identities of its endpoints' pods.
    const withPod = { ...third, endpointSlices: [{ ...third.endpointSlices[0]!, endpoints: [{ addresses: ['10.244.0.6'], targetRef: { kind: 'Pod', name: 'echo-1', namespace: 'demo' } }] }] };
    translateProxy(withPod, everywhere('demo'), memo);
    const misses = memo.misses;
    const meshed = { ...withPod, endpointIdentities: new Map([['demo/echo-1', 'spiffe://cluster.local/ns/demo/sa/echo']]) };
    expect(decoded(translateProxy(meshed, everywhere('demo'), memo))).toEqual(decoded(translateProxy(meshed, everywhere('demo'))));
    expect(memo.misses).toBe(misses + 1);
  });
});

describe('MeshTranslator', () => {
  it('translates once per scope and generation, and again after the inputs change', () => {
    const t = new MeshTranslator((p) => ({ namespace: p.namespace, outboundNamespaces: null }));
    const proxy = (pod: string, ns: string) => ({ id: `${pod}.${ns}`, podName: pod, namespace: ns, podIp: '', serviceAccount: 'default', mode: 'sidecar' });
    t.setInputs(inputs([service('demo', 'echo', [{ port: 80 }])]));
    const a = t.snapshotFor(proxy('a', 'demo'));
    const b = t.snapshotFor(proxy('b', 'demo'));
    t.snapshotFor(proxy('c', 'other'));
    expect(t.translations).toBe(2);
    expect(a.ok && b.ok && a.value.version === b.value.version).toBe(true);
    t.setInputs(inputs([service('demo', 'echo', [{ port: 80 }, { port: 81 }])]));
    const c = t.snapshotFor(proxy('a', 'demo'));
    expect(t.translations).toBe(3);
    expect(c.ok && a.ok && c.value.version !== a.value.version).toBe(true);
  });

  it('holds one instance of each distinct resource across scopes and generations', () => {
    const t = new MeshTranslator((p) => ({ namespace: p.namespace, outboundNamespaces: null }));
    const proxy = (ns: string) => ({ id: `p.${ns}`, podName: 'p', namespace: ns, podIp: '', serviceAccount: 'default', mode: 'sidecar' });
    const echo = service('demo', 'echo', [{ port: 80 }]);
    t.setInputs(inputs([echo, service('other', 'api', [{ port: 80 }])]));
    const get = (ns: string, key: string) => {
      const s = t.snapshotFor(proxy(ns));
      if (!s.ok) throw new Error('no snapshot');
      return s.value.resources.get(key)!;
    };
    const cluster = `cluster/${clusterName('demo', 'echo', 80)}`;
    // The same cluster for callers in two namespaces: one body, not one per scope.
    expect(get('demo', cluster)).toBe(get('third', cluster));
    // Its virtual host differs by scope (the bare name only from its own namespace): two bodies.
    const vh = `virtual-host/${clusterName('demo', 'echo', 80)}`;
    expect(get('demo', vh).version).not.toBe(get('third', vh).version);
    // A new generation in which echo did not change keeps echo's instances.
    const before = get('demo', cluster);
    t.setInputs(inputs([echo, service('other', 'api', [{ port: 80 }, { port: 81 }])]));
    t.invalidate();
    expect(get('demo', cluster)).toBe(before);
  });
});
