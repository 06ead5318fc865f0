// The demo's control-plane smoke check: every replica is asked for /debug/proxies, and each demo pod's sidecar must be SYNCED on one.
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { CONTROL_PLANE_DEBUG_PORT } from '../api/proto/config-discovery.ts';
import { MESH_NAMESPACE } from '../api/mesh/mesh-constants.ts';
import { poll } from './poll.ts';
import type { SmokeResult } from './smoke-summary.ts';

const CONTROL_PLANE_SELECTOR = 'app.kubernetes.io/name=skein-control-plane';

/** One proxy as a control-plane replica's /debug/proxies lists it (the fields this check reads). */
export interface ListedProxy {
  readonly podName: string;
  readonly namespace: string;
  readonly status: string;
  readonly replica: string;
  readonly ackedVersion: string;
}

/**
 * Which of `pods` (names in `namespace`) no replica lists as SYNCED; a pod may be listed by any replica (proxies
 * connect to one). Pure, so the rule is tested without a cluster.
 */
export function unsyncedPods(listed: readonly ListedProxy[], namespace: string, pods: readonly string[]): string[] {
  const synced = new Set(listed.filter((p) => p.namespace === namespace && p.status === 'SYNCED' && p.ackedVersion !== '').map((p) => p.podName));
  return pods.filter((p) => !synced.has(p));
}

async function listedBy(pod: V1Pod): Promise<ListedProxy[]> {
  const ip = pod.status?.podIP;
  if (!ip) return [];
  const res = await fetch(`http://${ip}:${CONTROL_PLANE_DEBUG_PORT}/debug/proxies`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) return [];
  const doc = (await res.json()) as { proxies?: ListedProxy[] };
  return Array.isArray(doc.proxies) ? doc.proxies : [];
}

/** Every proxy that some control-plane replica lists (a replica that does not answer lists none). */
export async function listProxies(kc: KubeConfig): Promise<ListedProxy[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const replicas = (await core.listNamespacedPod({ namespace: MESH_NAMESPACE, labelSelector: CONTROL_PLANE_SELECTOR })).items;
  return (await Promise.all(replicas.map((r) => listedBy(r).catch(() => [])))).flat();
}

/** Passes once every running pod of `namespace` is SYNCED with some control-plane replica (their config came from it). */
export async function checkControlPlane(kc: KubeConfig, namespace: string, timeoutMs: number): Promise<SmokeResult> {
  const core = kc.makeApiClient(CoreV1Api);
  let last = 'no control-plane replica answered /debug/proxies';
  try {
    const ok = await poll(async () => {
      const listed = await listProxies(kc);
      const pods = (await core.listNamespacedPod({ namespace })).items
        .filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp)
        .map((p) => p.metadata?.name ?? '');
      if (pods.length === 0) {
        last = `no running pods in ${namespace}`;
        return undefined;
      }
      const missing = unsyncedPods(listed, namespace, pods);
      if (missing.length > 0) {
        last = `not SYNCED on any control-plane replica: ${missing.join(', ')}`;
        return undefined;
      }
      const replicaNames = [...new Set(listed.filter((p) => p.namespace === namespace).map((p) => p.replica))];
      return `${pods.length} sidecars in ${namespace} SYNCED (config pushed by ${replicaNames.join(', ')})`;
    }, timeoutMs);
    return ok ? { part: 'control plane', status: 'pass', detail: ok } : { part: 'control plane', status: 'fail', detail: last };
  } catch (e) {
    return { part: 'control plane', status: 'fail', detail: (e as Error).message.split('\n')[0] ?? 'error' };
  }
}
