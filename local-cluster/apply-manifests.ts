// Applies the YAML manifests of a folder to the cluster the way `kubectl apply --server-side` would (what a user does with manifests/).
import { KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** The objects in a YAML file, or in every .yaml/.yml file of a folder (sorted by name). */
export function readManifests(dirOrFile: string): KubernetesObject[] {
  let files: string[];
  try {
    files = statSync(dirOrFile).isDirectory()
      ? readdirSync(dirOrFile).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dirOrFile, f))
      : [dirOrFile];
  } catch {
    return [];
  }
  const objects: KubernetesObject[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) {
      const obj = doc.toJS() as KubernetesObject | null;
      if (obj && typeof obj === 'object' && obj.kind) objects.push(obj);
    }
  }
  return objects;
}

// kubectl-like order: definitions and namespaces, then identities and config, Services, workloads, and webhook
// registrations last (so a webhook is never registered before the workload that serves it).
const ORDER: Readonly<Record<string, number>> = {
  CustomResourceDefinition: 0,
  Namespace: 1,
  ServiceAccount: 2,
  ClusterRole: 2,
  Role: 2,
  ClusterRoleBinding: 3,
  RoleBinding: 3,
  ConfigMap: 3,
  Secret: 3,
  Service: 4,
  MutatingWebhookConfiguration: 6,
  ValidatingWebhookConfiguration: 6,
  ValidatingAdmissionPolicy: 6,
  ValidatingAdmissionPolicyBinding: 7,
};

function rank(o: KubernetesObject): number {
  return ORDER[o.kind ?? ''] ?? 5;
}

/** The objects in the order they are applied (stable: same-rank objects keep their file order). */
export function inApplyOrder(objects: readonly KubernetesObject[]): KubernetesObject[] {
  return [...objects].sort((a, b) => rank(a) - rank(b));
}

export async function applyManifests(kubeconfigPath: string, objects: readonly KubernetesObject[], log: (line: string) => void): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const client = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of inApplyOrder(objects)) {
    await client.patch(obj, undefined, undefined, 'skein-demo', true, PatchStrategy.ServerSideApply);
    log(`applied ${obj.kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name}`);
  }
}
