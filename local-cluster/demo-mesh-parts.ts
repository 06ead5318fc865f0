// The Skein parts the demo installs from manifests/ (one folder per part) and the smoke check that proves each one works.
import { AppsV1Api, CoreV1Api, KubeConfig, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { INJECT_LABEL, INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME } from '../api/mesh/mesh-constants.ts';
import { readManifests } from './apply-manifests.ts';
import { DEMO_NAMESPACE } from './demo-journey.ts';
import { poll } from './poll.ts';
import type { SmokeResult } from './smoke-summary.ts';

export interface MeshPart {
  readonly part: string;
  /** manifests/<dir>/ (or manifests/<dir>.yaml) installs the part. */
  readonly dir: string;
}

export const MESH_PARTS: readonly MeshPart[] = [
  { part: 'control plane', dir: 'control-plane' },
  { part: 'injector', dir: 'injector' },
  { part: 'ingress', dir: 'ingress' },
];

/** The part's manifests, or undefined while the part has none (not built yet). */
export function meshPartManifests(manifestsDir: string, p: MeshPart): KubernetesObject[] | undefined {
  for (const candidate of [join(manifestsDir, p.dir), join(manifestsDir, `${p.dir}.yaml`)]) {
    if (!existsSync(candidate)) continue;
    const objects = readManifests(candidate);
    if (objects.length > 0) return objects;
  }
  return undefined;
}

/** Waits until every Deployment among `objects` has all its replicas available; returns the ones that did not. */
export async function unavailableDeployments(kc: KubeConfig, objects: readonly KubernetesObject[], timeoutMs: number): Promise<string[]> {
  const apps = kc.makeApiClient(AppsV1Api);
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const missing: string[] = [];
  for (const d of deployments) {
    const name = d.metadata?.name ?? '';
    const namespace = d.metadata?.namespace ?? 'default';
    const ok = await poll(async () => {
      const cur = await apps.readNamespacedDeployment({ name, namespace });
      const want = cur.spec?.replicas ?? 1;
      return (cur.status?.availableReplicas ?? 0) >= want ? true : undefined;
    }, timeoutMs);
    if (!ok) missing.push(`${namespace}/${name}`);
  }
  return missing;
}

/** The injector works when a pod created in a namespace labelled for injection comes back with the init container and sidecar, and runs. */
export async function checkInjector(kc: KubeConfig, timeoutMs: number): Promise<SmokeResult> {
  const core = kc.makeApiClient(CoreV1Api);
  try {
    await core.createNamespace({ body: { metadata: { name: DEMO_NAMESPACE, labels: { [INJECT_LABEL]: 'enabled' } } } }).catch(async (e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
    await poll(() => core.readNamespacedServiceAccount({ name: 'default', namespace: DEMO_NAMESPACE }), 60_000);
    const name = `smoke-${Date.now().toString(36)}`;
    const pod = await core.createNamespacedPod({
      namespace: DEMO_NAMESPACE,
      body: {
        metadata: { name, labels: { app: 'smoke-echo' } },
        spec: { terminationGracePeriodSeconds: 5, containers: [{ name: 'echo', image: 'skein.dev/example-echo:demo', ports: [{ containerPort: 8080 }] }] },
      },
    });
    const names = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
    if (!names.includes(INIT_CONTAINER_NAME) || !names.includes(SIDECAR_CONTAINER_NAME)) {
      return { part: 'injector', status: 'fail', detail: `pod ${name} was not injected (containers: ${names.join(', ')})` };
    }
    const ready = await poll(async () => {
      const p: V1Pod = await core.readNamespacedPod({ name, namespace: DEMO_NAMESPACE });
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, timeoutMs);
    if (!ready) return { part: 'injector', status: 'fail', detail: `injected pod ${DEMO_NAMESPACE}/${name} did not become Ready` };
    // It proved its point; on 2 cores its two processes are better spent on the demo's own services.
    await core.deleteNamespacedPod({ name, namespace: DEMO_NAMESPACE, gracePeriodSeconds: 1 }).catch(() => {});
    return { part: 'injector', status: 'pass', detail: `pod ${DEMO_NAMESPACE}/${name} injected (${INIT_CONTAINER_NAME}, ${SIDECAR_CONTAINER_NAME}) and Ready` };
  } catch (e) {
    return { part: 'injector', status: 'fail', detail: (e as Error).message.split('\n')[0] ?? 'error' };
  }
}
