// TrafficPolicy end to end on a real API server with two control-plane replicas: the policy reaches a subscribed proxy
// in its push; status (Accepted / Invalid / Conflicted) is written by the Lease holder alone, once (no write when
// unchanged); the other replica takes over the Lease when the holder stops; the CRD's CEL rules refuse a bad policy.
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig, VirtualHostConfig } from '../../api/config/proxy-config.ts';
import type { TrafficPolicy } from '../../api/crd/traffic-policy.ts';
import { startControlPlane, type RunningControlPlane } from '../../control-plane/control-plane-runtime.ts';
import { clusterName } from '../../control-plane/translation/translate-proxy.ts';
import { applyCrds, waitCrdsEstablished } from '../../local-cluster/apply-crds.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { ControlPlaneClient } from '../../proxy/control/control-plane-client.ts';
import { eventually } from '../support/until.ts';

const NS = 'cp-policy';
const LEASE_NS = 'skein-system';

describe('TrafficPolicy through the control plane on a real API server', () => {
  let cluster: LocalClusterDetails;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let coordination: k8s.CoordinationV1Api;
  const replicas = new Map<string, RunningControlPlane>();

  const tpApi = { group: 'skein.dev', version: 'v1alpha1', namespace: NS, plural: 'trafficpolicies' };
  const createPolicy = (name: string, spec: Record<string, unknown>) => custom.createNamespacedCustomObject({ ...tpApi, body: { apiVersion: 'skein.dev/v1alpha1', kind: 'TrafficPolicy', metadata: { name }, spec } });
  const readPolicy = async (name: string) => (await custom.getNamespacedCustomObject({ ...tpApi, name })) as TrafficPolicy & { metadata: { resourceVersion: string } };
  const condition = (p: TrafficPolicy, type: string) => p.status?.conditions?.find((c) => c.type === type);

  beforeAll(async () => {
    cluster = await startLocalCluster({ withNodeAgent: false, log: () => {} });
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespace({ body: { metadata: { name: LEASE_NS } } });
    const crd = readFileSync(join(import.meta.dirname, '../../manifests/control-plane/crd-trafficpolicies.yaml'), 'utf8');
    await waitCrdsEstablished(kc, await applyCrds(kc, [crd], 'skein-test'));
    for (const name of ['cp-a', 'cp-b']) {
      replicas.set(
        name,
        await startControlPlane({
          kubeConfig: kc,
          replica: name,
          grpcAddress: '127.0.0.1',
          grpcPort: 0,
          debugAddress: '127.0.0.1',
          debugPort: 0,
          log: () => {},
          lease: { durationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 },
        }),
      );
    }
  }, 300_000);

  afterAll(async () => {
    for (const cp of replicas.values()) await cp.stop();
    await cluster?.stop();
  });

  it('applies a policy, pushes it to a subscribed proxy, and the Lease holder alone writes Accepted / Invalid / Conflicted', async () => {
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'echo' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } } });
    await createPolicy('echo-policy', {
      targetRef: { kind: 'Service', name: 'echo' },
      retries: { attempts: 3, retryOn: ['5xx'] },
      timeouts: { request: '2s' },
      outlierDetection: { consecutive5xx: 3, interval: '1s', baseEjectionTime: '5s' },
    });
    // created a moment later: younger, so its retries lose to echo-policy's; its rate limit applies
    await new Promise((r) => setTimeout(r, 1100));
    await createPolicy('echo-younger', { targetRef: { kind: 'Service', name: 'echo' }, retries: { attempts: 5 }, rateLimit: { requestsPerSecond: 50 } });
    // valid for the API server, refused by the control plane: longer than the proxy's 24 h
    await createPolicy('echo-invalid', { targetRef: { kind: 'Service', name: 'echo' }, timeouts: { request: '48h' } });

    const cp = replicas.get('cp-a')!;
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
      const name = clusterName(NS, 'echo', 80);
      const route = await eventually('the policy in the pushed virtual host', () => {
        const r = (held.get(`virtual-host/${name}`) as VirtualHostConfig | undefined)?.routes[0];
        return r?.retries && r.rateLimit ? r : undefined;
      });
      expect(route.timeoutMs).toBe(2000);
      expect(route.retries!.attempts).toBe(2);
      expect(route.rateLimit!.requestsPerSecond).toBe(50);
      expect((held.get(`cluster/${name}`) as ClusterConfig).outlierDetection).toMatchObject({ consecutive5xxErrors: 3, intervalMs: 1000, baseEjectionTimeMs: 5000 });
    } finally {
      client.stop();
    }

    const good = await eventually('echo-policy Accepted', async () => {
      const p = await readPolicy('echo-policy');
      return condition(p, 'Accepted')?.status === 'True' && p;
    });
    expect(good.status!.observedGeneration).toBe(good.metadata.generation);
    expect(condition(good, 'Conflicted')).toMatchObject({ status: 'False', reason: 'NoConflict' });
    const younger = await eventually('echo-younger Conflicted', async () => {
      const p = await readPolicy('echo-younger');
      return condition(p, 'Conflicted')?.status === 'True' && p;
    });
    expect(condition(younger, 'Accepted')!.status).toBe('True');
    expect(condition(younger, 'Conflicted')!.message).toContain(`retries set by ${NS}/echo-policy`);
    const invalid = await eventually('echo-invalid Invalid', async () => {
      const p = await readPolicy('echo-invalid');
      return condition(p, 'Accepted')?.reason === 'Invalid' && p;
    });
    expect(condition(invalid, 'Accepted')).toMatchObject({ status: 'False', message: 'spec.timeouts.request: 48h is longer than the proxy allows (24h)', observedGeneration: 1 });

    // One writer: the Lease's holder. The other replica wrote nothing.
    const lease = await coordination.readNamespacedLease({ name: 'skein-control-plane-status', namespace: LEASE_NS });
    const holder = lease.spec!.holderIdentity!;
    expect(['cp-a', 'cp-b']).toContain(holder);
    const other = holder === 'cp-a' ? 'cp-b' : 'cp-a';
    expect(replicas.get(holder)!.status.writes).toBeGreaterThanOrEqual(3);
    expect(replicas.get(other)!.status.writes).toBe(0);
    const res = await fetch(`http://127.0.0.1:${replicas.get(holder)!.debug.port}/debug/status`);
    expect(await res.json()).toMatchObject({ replica: holder, leading: true, holder });

    // Idempotent: unrelated changes make passes, and passes write nothing more.
    const writes = replicas.get(holder)!.status.writes;
    const rv = (await readPolicy('echo-policy')).metadata.resourceVersion;
    const passes = replicas.get(holder)!.status.passes;
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'unrelated' }, spec: { ports: [{ port: 81 }] } } });
    await eventually('a status pass after the unrelated change', () => replicas.get(holder)!.status.passes > passes);
    await replicas.get(holder)!.status.idle();
    expect(replicas.get(holder)!.status.writes).toBe(writes);
    expect((await readPolicy('echo-policy')).metadata.resourceVersion).toBe(rv);
  });

  it('when the holder stops, the other replica takes the Lease and writes the next status', async () => {
    const lease = await coordination.readNamespacedLease({ name: 'skein-control-plane-status', namespace: LEASE_NS });
    const holder = lease.spec!.holderIdentity!;
    const other = holder === 'cp-a' ? 'cp-b' : 'cp-a';
    await replicas.get(holder)!.stop();
    replicas.delete(holder);
    await eventually('the other replica leading', () => replicas.get(other)!.elector.leading);
    // a new generation of the invalid policy, now valid
    const p = await readPolicy('echo-invalid');
    await custom.replaceNamespacedCustomObject({ ...tpApi, name: 'echo-invalid', body: { ...p, spec: { ...p.spec, timeouts: { request: '3s' } } } });
    const fixed = await eventually('echo-invalid Accepted at generation 2', async () => {
      const q = await readPolicy('echo-invalid');
      return q.status?.observedGeneration === 2 && q;
    });
    // echo-policy is older and also sets timeouts: the fixed policy lost its only section
    expect(condition(fixed, 'Accepted')).toMatchObject({ status: 'False', reason: 'Conflicted', observedGeneration: 2 });
    expect(replicas.get(other)!.status.writes).toBeGreaterThan(0);
    const l = await coordination.readNamespacedLease({ name: 'skein-control-plane-status', namespace: LEASE_NS });
    expect(l.spec!.holderIdentity).toBe(other);
  });

  it('a policy the CRD rules refuse never reaches the control plane', async () => {
    await expect(createPolicy('refused', { targetRef: { kind: 'Service', name: 'echo' }, fault: {} })).rejects.toThrow(/fault needs a delay or an abort/);
  });
});
