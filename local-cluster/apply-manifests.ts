// Applies the YAML manifests of a folder to the cluster the way `kubectl apply --server-side` would (what a user does with manifests/).
import { KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export function readManifests(dir: string): KubernetesObject[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch {
    return [];
  }
  const objects: KubernetesObject[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const obj = doc.toJS() as KubernetesObject | null;
      if (obj && typeof obj === 'object' && obj.kind) objects.push(obj);
    }
  }
  return objects;
}

// CRDs and namespaces first, so the objects that depend on them find them.
function rank(o: KubernetesObject): number {
  if (o.kind === 'CustomResourceDefinition') return 0;
  if (o.kind === 'Namespace') return 1;
  return 2;
}

export async function applyManifests(kubeconfigPath: string, objects: readonly KubernetesObject[], log: (line: string) => void): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const client = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of [...objects].sort((a, b) => rank(a) - rank(b))) {
    await client.patch(obj, undefined, undefined, 'skein-demo', true, PatchStrategy.ServerSideApply);
    log(`applied ${obj.kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name}`);
  }
}
