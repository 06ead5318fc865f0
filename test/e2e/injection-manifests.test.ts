// e2e: manifests/injector/ as shipped, applied to the local cluster: the injector runs as a Deployment in skein-system
// (in-cluster config, RBAC, version detection), each replica merges its CA into the MutatingWebhookConfiguration, and the
// API server, calling the Service (its ClusterIP, which the real node's kube-proxy routes), has a labelled namespace's pods
// injected whichever replica answers.
import * as k8s from '@kubernetes/client-node';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESH_NAMESPACE } from '../../api/mesh/mesh-constants.ts';
import { splitPemBundle } from '../../injector/serving-cert.ts';
import { applyManifests, readManifests } from '../../local-cluster/apply-manifests.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { waitFor } from './wait-for.ts';

const REPO = join(import.meta.dirname, '../..');
const NS = 'e2e-inject-manifests';

describe('manifests/injector on the local cluster', () => {
  let cluster: LocalClusterDetails | undefined;
  let unavailable: string | null = null;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let admission: k8s.AdmissionregistrationV1Api;
  const log: string[] = [];

  beforeAll(async () => {
    try {
      cluster = await startLocalCluster({ node: 'kubelet', log: (l) => log.push(l) });
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
