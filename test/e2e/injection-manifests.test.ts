// e2e: manifests/injector/ as shipped, applied to the local cluster: the injector runs as a Deployment in skein-system
// (in-cluster config, RBAC, version detection), each replica merges its CA into the MutatingWebhookConfiguration, and the
// API server, calling the Service, has a labelled namespace's pods injected whichever replica answers.
//
// The local cluster has no kube-proxy and kube-apiserver dials a webhook Service at its ClusterIP (not at an endpoint,
// even with --enable-aggregator-routing), so this test routes that one ClusterIP to the two endpoints itself, in a chain
// of its own that it removes afterwards: what kube-proxy would do.
import * as k8s from '@kubernetes/client-node';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESH_NAMESPACE } from '../../api/mesh/mesh-constants.ts';
import { splitPemBundle } from '../../injector/serving-cert.ts';
import { applyManifests, readManifests } from '../../local-cluster/apply-manifests.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { waitFor } from './wait-for.ts';

const REPO = join(import.meta.dirname, '../..');
const NS = 'e2e-inject-manifests';
const CHAIN = 'SKEIN_E2E_SVC';

function ipt(...args: string[]): void {
  execFileSync('iptables', ['-w', '-t', 'nat', ...args]);
}
function removeServiceRoute(): void {
  while (spawnSync('iptables', ['-w', '-t', 'nat', '-D', 'OUTPUT', '-j', CHAIN]).status === 0) { /* one jump removed per pass */ }
  spawnSync('iptables', ['-w', '-t', 'nat', '-F', CHAIN]);
  spawnSync('iptables', ['-w', '-t', 'nat', '-X', CHAIN]);
}
/** kube-proxy's job for one Service port: ClusterIP:port -> endpoints, alternating. */
function routeService(clusterIp: string, port: number, endpoints: readonly string[], targetPort: number): void {
  removeServiceRoute();
  ipt('-N', CHAIN);
  endpoints.forEach((ep, i) => {
    const left = endpoints.length - i;
    const pick = left > 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', (1 / left).toFixed(4)] : [];
    ipt('-A', CHAIN, '-d', `${clusterIp}/32`, '-p', 'tcp', '--dport', String(port), ...pick, '-j', 'DNAT', '--to-destination', `${ep}:${targetPort}`);
  });
  ipt('-I', 'OUTPUT', '1', '-j', CHAIN);
}

describe('manifests/injector on the local cluster', () => {
  let cluster: LocalClusterDetails | undefined;
  let unavailable: string | null = null;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let admission: k8s.AdmissionregistrationV1Api;
  const log: string[] = [];

  beforeAll(async () => {
    try {
      cluster = await startLocalCluster({ log: (l) => log.push(l) });
    } catch (e) {
      unavailable = `local cluster unavailable: ${(e as Error).message}`;
      return;
    }
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  });

  afterAll(async () => {
    removeServiceRoute();
    await cluster?.stop();
  });

  const newPod = (name: string) => core.createNamespacedPod({
    namespace: NS,
    body: { metadata: { name, labels: { app: name } }, spec: { terminationGracePeriodSeconds: 5, containers: [{ name: 'echo', image: 'skein.dev/example-echo:e2e', ports: [{ containerPort: 8080 }] }] } },
  });

  it('the shipped injector starts, publishes one CA per replica, and injects a labelled namespace', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    await applyManifests(cluster!.kubeconfigPath, readManifests(join(REPO, 'manifests/injector')), (l) => log.push(l));
    await waitFor('the injector Deployment available with 2 replicas', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'skein-injector', namespace: MESH_NAMESPACE });
      return d.status?.readyReplicas === 2 ? d : undefined;
    }, 240_000);
    const bundle = await waitFor('both replicas\' CAs in every caBundle', async () => {
      const c = await admission.readMutatingWebhookConfiguration({ name: 'skein-injector' });
      const bundles = (c.webhooks ?? []).map((w) => splitPemBundle(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString()));
      return bundles.length === 2 && bundles.every((b) => b.length === 2) ? bundles[0] : undefined;
    }, 60_000);
    expect(new Set(bundle.map((c) => c.fingerprint256)).size).toBe(2);

    const svc = await core.readNamespacedService({ name: 'skein-injector', namespace: MESH_NAMESPACE });
    const injectors = await core.listNamespacedPod({ namespace: MESH_NAMESPACE, labelSelector: 'app.kubernetes.io/name=skein-injector' });
    routeService(svc.spec!.clusterIP!, 443, injectors.items.map((p) => p.status!.podIP!), 9443);

    await core.createNamespace({ body: { metadata: { name: NS, labels: { 'skein.dev/inject': 'enabled' } } } });
    await waitFor('the default ServiceAccount', async () => core.readNamespacedServiceAccount({ name: 'default', namespace: NS }));
    // Several pods, so that both replicas answer some (each with a certificate from its own CA).
    for (let i = 0; i < 8; i++) await newPod(`app-${i}`);
    for (let i = 0; i < 8; i++) {
      const p = await core.readNamespacedPod({ name: `app-${i}`, namespace: NS });
      expect(p.spec!.initContainers!.map((c) => c.name)).toEqual(['skein-init', 'skein-proxy']);
    }
    await waitFor('an injected pod Ready', async () => {
      const p = await core.readNamespacedPod({ name: 'app-0', namespace: NS });
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, 180_000);
  });
});
