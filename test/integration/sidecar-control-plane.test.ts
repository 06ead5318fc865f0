// A real proxy in sidecar mode fed by an in-process control plane (the config-discovery server over the real translation):
// pass-through and said so before first contact; then a Service's Host forms (name and ClusterIP:port) reach its endpoints;
// the control plane stopped, traffic keeps flowing on the last config; on reconnect the proxy receives only the delta.
import net from 'node:net';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { Push } from '../../api/proto/config-discovery.ts';
import { ok } from '../../api/result.ts';
import { ConfigServer } from '../../control-plane/serving/config-server.ts';
import { makeSnapshot, type ResourceBody } from '../../control-plane/serving/proxy-snapshot.ts';
import type { ProxySnapshot, SnapshotSource } from '../../control-plane/serving/snapshot-source.ts';
import type { MeshInputs } from '../../control-plane/translation/mesh-inputs.ts';
import { clusterName, translateProxy } from '../../control-plane/translation/translate-proxy.ts';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { sidecarConfigDocument } from '../../proxy/sidecar/sidecar-bootstrap.ts';
import { h1Request } from '../support/clients.ts';
import { until } from '../support/until.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const service = (name: string, ip: string, port: number, targetPort: number): V1Service => ({
  metadata: { namespace: 'demo', name },
  spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', port, targetPort, protocol: 'TCP' }] } as V1Service['spec'],
});
const slice = (svc: string, port: number): V1EndpointSlice => ({
  metadata: { namespace: 'demo', name: `${svc}-1`, labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
});

/** Translation of whatever the inputs are when a proxy asks. */
class LiveSource implements SnapshotSource {
  inputs: MeshInputs = { services: [], endpointSlices: [], namespaces: [], trafficPolicies: [] };
  /** Resources a buggy control plane might add. */
  extra: ResourceBody[] = [];
  snapshotFor() {
    return ok<ProxySnapshot>(makeSnapshot([...translateProxy(this.inputs, { namespace: 'web', outboundNamespaces: null }).resources, ...this.extra]));
  }
}

const upstreamOf = (body: Buffer): string => (JSON.parse(body.toString()) as { id: string }).id;
const keys = (p: Push): string[] => p.resources.map((r) => `${r.type}/${r.name}`).sort();

describe('sidecar fed by the control plane', () => {
  let echo: Upstream, api: Upstream;
  let proxy: RunningProxy;
  let cpPort: number;
  const source = new LiveSource();
  const servers: ConfigServer[] = [];
  const pushes: Push[] = [];

  async function startControlPlane(): Promise<ConfigServer> {
    const server = new ConfigServer({ source, debounceQuietMs: 10, debounceMaxMs: 50, events: { onPush: (_id, p) => pushes.push(p) } });
    await server.listen('127.0.0.1', cpPort);
    servers.push(server);
    return server;
  }

  beforeAll(async () => {
    [echo, api] = await Promise.all([startHttpUpstream('h1', { id: 'echo' }), startHttpUpstream('h1', { id: 'api' })]);
    source.inputs = { ...source.inputs, services: [service('echo', '10.96.0.10', 8080, echo.port)], endpointSlices: [slice('echo', echo.port)] };
    cpPort = await freePort();
    // The bootstrap as --sidecar builds it, on ports of its own.
    const doc = sidecarConfigDocument({ SKEIN_POD_NAME: 'web-1', SKEIN_POD_NAMESPACE: 'web' }) as { admin: { port: number }; listeners: { address: string; port: number }[] };
    doc.admin.port = 0;
    for (const l of doc.listeners) Object.assign(l, { address: '127.0.0.1', port: 0 });
    const parsed = parseProxyConfig(doc);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    proxy = await startProxy(parsed.value, {
      controlPlane: {
        address: `127.0.0.1:${cpPort}`,
        hello: { proxyId: '', podName: 'web-1', podNamespace: 'web', podIp: '10.244.0.9', serviceAccount: 'web', token: '', mode: 'sidecar', proxyVersion: 'test' },
        backoff: { baseMs: 20, capMs: 100 },
      },
    });
  });
  afterAll(async () => {
    await proxy?.close();
    for (const s of servers) await s.close();
    for (const u of [echo, api]) await u?.close();
  });
  afterEach(() => {
    pushes.length = 0;
  });

  const outbound = (): number => proxy.listeners.get('outbound')!.port;
  const ready = async (): Promise<string> => (await h1Request(proxy.admin.port, '/ready')).body.toString();

  it('serves its bootstrap pass-through before the control plane answers, and says so', async () => {
    expect(proxy.controlPlane?.status.state).toBe('pass-through');
    expect(await ready()).toMatch(/^ready\ncontrol plane 127\.0\.0\.1:\d+ not reached since start: serving pass-through/);
    expect(proxy.runtime.version).toBe('bootstrap');
  });

  it('takes the pushed config and routes a Service by name and by ClusterIP:port to its endpoints', async () => {
    await startControlPlane();
    await until('synced', () => proxy.controlPlane?.status.state === 'synced');
    expect(proxy.runtime.version).toBe(proxy.controlPlane!.status.version);
    const echo = clusterName('demo', 'echo', 8080);
    expect(keys(pushes[0]!)).toEqual([`cluster/${echo}`, `endpoint-set/${echo}`, `outbound-vips/${echo}`, 'route-table/outbound', `virtual-host/${echo}`]);
    for (const host of ['echo.demo:8080', 'echo.demo.svc.cluster.local:8080', '10.96.0.10:8080']) {
      const r = await h1Request(outbound(), '/hello', { headers: { host } });
      expect(r.status, host).toBe(200);
      expect(upstreamOf(r.body)).toBe('echo');
    }
    expect(await ready()).toMatch(/^ready\ncontrol plane 127\.0\.0\.1:\d+: config \w+\nconfig \w+\n$/);
  });

  it('keeps serving its last config while the control plane is away, and gets only the delta on reconnect', async () => {
    await servers.at(-1)!.close();
    await until('away', () => proxy.controlPlane?.status.state === 'away');
    const held = proxy.runtime.version;
    const r = await h1Request(outbound(), '/still', { headers: { host: 'echo.demo:8080' } });
    expect(r.status).toBe(200);
    expect(await ready()).toMatch(/away: serving last config/);

    // Meanwhile a Service appeared; echo did not change.
    source.inputs = {
      ...source.inputs,
      services: [...source.inputs.services, service('api', '10.96.0.11', 9090, api.port)],
      endpointSlices: [...source.inputs.endpointSlices, slice('api', api.port)],
    };
    await startControlPlane();
    await until('synced again', () => proxy.controlPlane?.status.state === 'synced' && proxy.runtime.version !== held);
    expect(pushes).toHaveLength(1);
    // The new Service's own resources, and nothing of the Services the proxy holds already (not even the route table).
    const api9090 = clusterName('demo', 'api', 9090);
    expect(keys(pushes[0]!)).toEqual([`cluster/${api9090}`, `endpoint-set/${api9090}`, `outbound-vips/${api9090}`, `virtual-host/${api9090}`]);
    expect((await h1Request(outbound(), '/x', { headers: { host: 'api.demo:9090' } })).body.toString()).toContain('"id":"api"');
    expect((await h1Request(outbound(), '/x', { headers: { host: '10.96.0.10:8080' } })).status).toBe(200);
  });

  it('an endpoint change is pushed as the endpoint set alone, and rebuilds one balancer and no route table', async () => {
    const moved = await startHttpUpstream('h1', { id: 'echo-moved' });
    try {
      const before = { ...proxy.runtime.counters };
      const version = proxy.runtime.version;
      source.inputs = { ...source.inputs, endpointSlices: [slice('echo', moved.port), ...source.inputs.endpointSlices.slice(1)] };
      servers.at(-1)!.changed('all');
      await until('the move applied', () => proxy.controlPlane?.status.state === 'synced' && proxy.runtime.version !== version);
      expect(pushes.map(keys)).toEqual([[`endpoint-set/${clusterName('demo', 'echo', 8080)}`]]);
      expect(proxy.runtime.counters.routeTables).toBe(before.routeTables);
      expect(proxy.runtime.counters.clusters).toBe(before.clusters);
      expect(proxy.runtime.counters.balancers).toBe(before.balancers + 1);
      expect(upstreamOf((await h1Request(outbound(), '/moved', { headers: { host: 'echo.demo:8080' } })).body)).toBe('echo-moved');
    } finally {
      await moved.close();
    }
  });

  it('NACKs a push it cannot take, with every reason, and keeps the last good config', async () => {
    const before = proxy.runtime.version;
    source.extra = [
      { type: 'cluster', name: 'bad', body: { name: 'bad', endpoints: [{ address: '127.0.0.1', port: 70000 }] } },
      { type: 'route-table', name: 'extra', body: { name: 'extra', virtualHosts: [{ name: 'x', routes: [{ name: 'x', backends: [{ cluster: 'missing' }] }] }] } },
    ];
    servers.at(-1)!.changed('all');
    const rejection = await until('a rejection', () => proxy.controlPlane?.status.lastRejection ?? false);
    expect(rejection.reasons).toEqual([{ type: 'cluster', name: 'bad', path: 'endpoints[0].port', message: 'must be <= 65535' }]);
    expect(proxy.runtime.version).toBe(before);
    // The control plane hears why, and shows it (proxy-status).
    const seen = await until('NACKED at the control plane', () => servers.at(-1)!.proxies().find((p) => p.status === 'NACKED'));
    expect(seen.nackReasons).toEqual(rejection.reasons);
    expect((await h1Request(outbound(), '/x', { headers: { host: 'api.demo:9090' } })).status).toBe(200);
  });

  it('ignores resources of a type newer than itself (a control plane upgraded first), applies the rest, ACKs and says so', async () => {
    const before = proxy.runtime.version;
    // Alongside the unknown type, a change it knows: a new Service, which must be applied in the same push.
    source.extra = [{ type: 'virtual-host-v2', name: 'echo', body: { anything: true } }];
    source.inputs = { ...source.inputs, services: [...source.inputs.services, service('late', '10.96.0.12', 7070, echo.port)], endpointSlices: [...source.inputs.endpointSlices, slice('late', echo.port)] };
    servers.at(-1)!.changed('all');
    await until('synced past the rejected set', () => proxy.controlPlane?.status.state === 'synced' && proxy.runtime.version !== before && proxy.runtime.version === proxy.controlPlane.status.version);
    expect(proxy.controlPlane!.status.ignored).toEqual({ resources: 1, types: ['virtual-host-v2'] });
    expect((await h1Request(outbound(), '/x', { headers: { host: 'late.demo:7070' } })).status).toBe(200);
    const seen = await until('SYNCED at the control plane', () => servers.at(-1)!.proxies().find((p) => p.status === 'SYNCED'));
    expect(seen.ackedVersion).toBe(proxy.runtime.version);
    expect(await ready()).toMatch(/config \w+ \(ignoring 1 resources of types this proxy does not know: virtual-host-v2\)/);
    expect((await h1Request(proxy.admin.port, '/metrics')).body.toString()).toMatch(/^skein_config_ignored_total 1$/m);
    // Gone from the set: nothing is ignored any more.
    source.extra = [];
    servers.at(-1)!.changed('all');
    await until('the unknown resource removed', () => proxy.controlPlane?.status.ignored.resources === 0);
    expect(await ready()).not.toMatch(/ignoring/);
  });
});
