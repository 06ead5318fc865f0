// What a pod's volumes and env read from the API: ConfigMaps, Secrets (decoded) and bound ServiceAccount tokens (TokenRequest).
import type { CoreV1Api } from '@kubernetes/client-node';
import type { ClusterReader } from './pod-volumes.ts';

function code(e: unknown): number | undefined {
  return (e as { code?: number }).code;
}

function toBuffers(m: Record<string, string> | undefined, base64: boolean): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, Buffer.from(v, base64 ? 'base64' : 'utf8')]));
}

export function clusterReader(core: CoreV1Api): ClusterReader {
  return {
    async configMap(namespace, name) {
      try {
        const cm = await core.readNamespacedConfigMap({ name, namespace });
        return { ...toBuffers(cm.binaryData, true), ...toBuffers(cm.data, false) };
      } catch (e) { if (code(e) === 404) return undefined; throw e; }
    },
    async secret(namespace, name) {
      try {
        const s = await core.readNamespacedSecret({ name, namespace });
        return { ...toBuffers(s.data, true), ...toBuffers(s.stringData, false) };
      } catch (e) { if (code(e) === 404) return undefined; throw e; }
    },
    async requestToken(r) {
      const tr = await core.createNamespacedServiceAccountToken({
        name: r.serviceAccount, namespace: r.namespace,
        body: {
          apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
          spec: { audiences: r.audience ? [r.audience] : [], expirationSeconds: r.expirationSeconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: r.podName, uid: r.podUid } },
        },
      });
      const exp = tr.status?.expirationTimestamp ? new Date(tr.status.expirationTimestamp).getTime() : Date.now() + r.expirationSeconds * 1000;
      return { token: tr.status?.token ?? '', ttlSeconds: Math.max(60, (exp - Date.now()) / 1000) };
    },
  };
}
