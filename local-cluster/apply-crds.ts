// Installs CustomResourceDefinitions from their YAML text by server-side apply of the raw document, then waits until
// they are Established. Not through client-node's typed serializer: it drops x-kubernetes-validations, which would
// silently remove every CEL rule of the CRD.
import { ApiextensionsV1Api, type KubeConfig } from '@kubernetes/client-node';
import https from 'node:https';
import { parseAllDocuments } from 'yaml';

function request(kc: KubeConfig, method: string, path: string, contentType: string, body: string): Promise<{ status: number; body: string }> {
  return (async () => {
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const server = new URL(kc.getCurrentCluster()!.server);
    return new Promise((resolve, reject) => {
      const req = https.request({ ...opts, hostname: server.hostname, port: server.port, method, path, headers: { ...opts.headers, 'content-type': contentType } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });
  })();
}

/** Applies every CustomResourceDefinition in `yamlTexts` (other kinds are skipped) and returns their names. */
export async function applyCrds(kc: KubeConfig, yamlTexts: readonly string[], fieldManager = 'skein'): Promise<string[]> {
  const names: string[] = [];
  for (const text of yamlTexts) {
    for (const doc of parseAllDocuments(text)) {
      const obj = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
      if (obj?.kind !== 'CustomResourceDefinition' || !obj.metadata?.name) continue;
      const name = obj.metadata.name;
      const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=${encodeURIComponent(fieldManager)}&force=true`;
      const res = await request(kc, 'PATCH', path, 'application/apply-patch+yaml', JSON.stringify(obj));
      if (res.status !== 200 && res.status !== 201) throw new Error(`applying CRD ${name}: HTTP ${res.status}: ${res.body.slice(0, 500)}`);
      names.push(name);
    }
  }
  return names;
}

/** Resolves once every named CRD is Established (or rejects after `timeoutMs`). */
export async function waitCrdsEstablished(kc: KubeConfig, names: readonly string[], timeoutMs = 30_000): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await ext.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
