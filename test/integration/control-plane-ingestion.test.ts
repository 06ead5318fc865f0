// Ingestion against a real API server (the local cluster without a node): informers list and watch Services,
// EndpointSlices, Namespaces and Pods; translation of their caches gives a proxy the Service's ready endpoints; an
// informer restarted after a failure picks up what changed meanwhile.
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig } from '../../api/config/proxy-config.ts';
import { ClusterWatcher } from '../../control-plane/ingestion/cluster-watcher.ts';
import { clusterName, clustersWithEndpoints, translateProxy } from '../../control-plane/translation/translate-proxy.ts';
import { applyCrds, waitCrdsEstablished } from '../../local-cluster/apply-crds.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { startControlPlane } from '../../control-plane/control-plane-runtime.ts';
import { ControlPlaneClient } from '../../proxy/control/control-plane-client.ts';
import { formatProxyStatus, type ProxyStatusRow } from '../../cli/commands/proxy-status.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const NS = 'cp-ingestion';

async function until<T>(what: string, f: () => T | undefined | false, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('control-plane ingestion on a real API server', () => {
  let cluster: LocalClusterDetails;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let discovery: k8s.DiscoveryV1Api;
  let watcher: ClusterWatcher;
  const changes: string[] = [];

  beforeAll(async () => {
    cluster = await startLocalCluster({ withNodeAgent: false, log: () => {} });
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    watcher = new ClusterWatcher(kc, { onChange: (r) => changes.push(r) });
    await watcher.start();
  }, 300_000);

  afterAll(async () => {
    await watcher?.stop();
    await cluster?.stop();
  });

  const endpointsOf = (port: number): ClusterConfig | undefined =>
    clustersWithEndpoints(translateProxy(watcher.inputs(), { namespace: NS, outboundNamespaces: null }).resources).find((c) => c.name === clusterName(NS, 'echo', port));

  it('sees a Service and its EndpointSlice, and translation routes to its ready endpoints', async () => {
    expect(watcher.namespaces.list().some((n) => n.metadata?.name === NS)).toBe(true);
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'echo' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } } });
    await discovery.createNamespacedEndpointSlice({
      namespace: NS,
      body: {
        metadata: { name: 'echo-1', labels: { 'kubernetes.io/service-name': 'echo' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: [{ addresses: ['10.244.0.20'], conditions: { ready: true } }, { addresses: ['10.244.0.21'], conditions: { ready: false } }],
      },
    });
    const c = await until('the endpoint in the translation', () => endpointsOf(80)?.endpoints.length === 1 && endpointsOf(80));
    expect(c.endpoints).toEqual([{ address: '10.244.0.20', port: 8080, weight: 1 }]);
    expect(changes).toContain('services');
    expect(changes).toContain('endpointslices');
  });

  it('follows updates and deletes', async () => {
    await discovery.replaceNamespacedEndpointSlice({
      name: 'echo-1',
      namespace: NS,
      body: {
        metadata: { name: 'echo-1', labels: { 'kubernetes.io/service-name': 'echo' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: [{ addresses: ['10.244.0.20'], conditions: { ready: true } }, { addresses: ['10.244.0.21'], conditions: { ready: true } }],
      },
    });
    await until('two endpoints', () => endpointsOf(80)?.endpoints.length === 2);
    await core.deleteNamespacedService({ name: 'echo', namespace: NS });
    await until('the Service gone', () => endpointsOf(80) === undefined);
  });

  it('an informer stopped and started again (as after an API failure) resumes and catches up', async () => {
    await watcher.services.stop();
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'later' }, spec: { ports: [{ port: 81 }] } } });
    const restarted = watcher.services.start();
    await restarted;
    await until('the Service created while stopped', () => watcher.services.list().some((s) => s.metadata?.name === 'later'));
  });

  it('the whole control plane: a Service created in the API reaches a subscribed proxy, and proxy-status shows it SYNCED', async () => {
    const cp = await startControlPlane({ kubeConfig: kc, replica: 'cp-test', grpcAddress: '127.0.0.1', grpcPort: 0, debugAddress: '127.0.0.1', debugPort: 0, log: () => {} });
    const held = new Map<string, unknown>();
    const client = new ControlPlaneClient({
      address: `127.0.0.1:${cp.grpcPort}`,
      hello: { proxyId: '', podName: 'web-1', podNamespace: NS, podIp: '10.244.0.30', serviceAccount: 'default', token: '', mode: 'sidecar', proxyVersion: 'test' },
      apply: (c) => {
        for (const r of c.removals) held.delete(`${r.type}/${r.name}`);
        for (const r of c.upserts) held.set(`${r.type}/${r.name}`, r.body);
        return { ok: true };
      },
    });
    client.start();
    try {
      await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'api' }, spec: { ports: [{ name: 'http', port: 8080 }] } } });
      await discovery.createNamespacedEndpointSlice({
        namespace: NS,
        body: {
          metadata: { name: 'api-1', labels: { 'kubernetes.io/service-name': 'api' } },
          addressType: 'IPv4',
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
          endpoints: [{ addresses: ['10.244.0.40'] }],
        },
      });
      // The cluster and, on its own, its endpoint set (endpoint churn changes only that resource).
      const key = `endpoint-set/${clusterName(NS, 'api', 8080)}`;
      const c = await until('the proxy holds the api endpoint set', () => (held.get(key) as { endpoints: ClusterConfig['endpoints'] } | undefined)?.endpoints.length === 1 && (held.get(key) as { endpoints: ClusterConfig['endpoints'] }));
      expect(c.endpoints[0]!.address).toBe('10.244.0.40');
      expect((held.get(`cluster/${clusterName(NS, 'api', 8080)}`) as ClusterConfig).endpoints).toEqual([]);
      const doc = await until('SYNCED in /debug/proxies', () => {
        const rows = cp.server.proxies();
        return rows.length === 1 && rows[0]!.status === 'SYNCED' && rows[0]!.ackedVersion === client.status.version && rows;
      });
      const res = await fetch(`http://127.0.0.1:${cp.debug.port}/debug/proxies`);
      const body = (await res.json()) as { replica: string; proxies: ProxyStatusRow[] };
      expect(body.replica).toBe('cp-test');
      expect(formatProxyStatus(body.proxies, Date.now())).toMatch(new RegExp(`^web-1\\s+${NS}\\s+SYNCED\\s+${doc[0]!.ackedVersion}`, 'm'));
      // The same replica's /metrics: the connected proxy, its pushes and ACKs, and the lag of the watch events just seen.
      const metrics = await (await fetch(`http://127.0.0.1:${cp.debug.port}/metrics`)).text();
      expect(metrics).toContain('skein_cp_proxies_connected 1');
      expect(metrics).toMatch(/^skein_cp_acks_total [1-9]/m);
      expect(metrics).toMatch(/^skein_cp_push_duration_seconds_count\{result="ack"\} [1-9]/m);
      expect(metrics).toMatch(/^skein_cp_informer_lag_seconds_count\{resource="endpointslices"\} [1-9]/m);
      expect(metrics).toContain('skein_cp_informer_synced{resource="services"} 1');
    } finally {
      client.stop();
      await cp.stop();
    }
  });

  it('the TrafficPolicy CRD as shipped: a valid policy is stored, bad values are refused by the API server with a message', async () => {
    // Server-side apply of the file's own YAML (applyCrds: client-node's typed serializer would drop every CEL rule).
    const yamlText = readFileSync(join(import.meta.dirname, '../../manifests/control-plane/crd-trafficpolicies.yaml'), 'utf8');
    await waitCrdsEstablished(kc, await applyCrds(kc, [yamlText], 'skein-test'));
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const create = (name: string, spec: Record<string, unknown>) =>
      custom.createNamespacedCustomObject({ group: 'skein.dev', version: 'v1alpha1', namespace: NS, plural: 'trafficpolicies', body: { apiVersion: 'skein.dev/v1alpha1', kind: 'TrafficPolicy', metadata: { name }, spec } });
    const refusal = async (spec: Record<string, unknown>): Promise<string> => {
      try {
        await create(`bad-${Math.random().toString(36).slice(2, 8)}`, spec);
      } catch (e) {
        return String((e as { body?: unknown }).body ?? (e as Error).message);
      }
      throw new Error('the API server accepted an invalid TrafficPolicy');
    };
    const target = { kind: 'Service', name: 'echo' };
    await create('good', {
      targetRef: { ...target, port: 80 },
      retries: { attempts: 3, perTryTimeout: '500ms', retryOn: ['5xx', 'retriable-status-codes'], retriableStatusCodes: [503], budget: { retryRatio: 0.2 } },
      timeouts: { request: '2s' },
      loadBalancer: { algorithm: 'ring-hash', hashKey: { header: 'x-user' } },
      fault: { abort: { httpStatus: 503, percent: 10 } },
      rateLimit: { requestsPerSecond: 100 },
      tracing: { samplingPercent: 1 },
    });
    expect(await refusal({ targetRef: { kind: 'Deployment', name: 'echo' } })).toMatch(/targetRef must name a core Service/);
    expect(await refusal({ targetRef: target, loadBalancer: { algorithm: 'ring-hash' } })).toMatch(/hashKey is required with ring-hash and only with ring-hash/);
    expect(await refusal({ targetRef: target, loadBalancer: { algorithm: 'ring-hash', hashKey: { header: 'a', cookie: 'b' } } })).toMatch(/hashKey takes exactly one of header, cookie, sourceIP/);
    expect(await refusal({ targetRef: target, fault: { abort: { httpStatus: 503, grpcStatus: 'UNAVAILABLE', percent: 1 } } })).toMatch(/abort takes exactly one of httpStatus and grpcStatus/);
    expect(await refusal({ targetRef: target, fault: {} })).toMatch(/fault needs a delay or an abort/);
    expect(await refusal({ targetRef: target, retries: { perTryTimeout: '5s' }, timeouts: { request: '1s' } })).toMatch(/perTryTimeout must not exceed timeouts.request/);
    expect(await refusal({ targetRef: target, retries: { retriableStatusCodes: [503] } })).toMatch(/retriableStatusCodes needs retryOn/);
    expect(await refusal({ targetRef: target, retries: { attempts: 11 } })).toMatch(/attempts/);
    expect(await refusal({ targetRef: target, timeouts: { request: 'soon' } })).toMatch(/timeouts.request/);
  });
});
