// Writes a kubeconfig that authenticates with an embedded client certificate (admin, controller-manager, scheduler, node).
import { stringify } from 'yaml';
import type { CertificatePem } from './certificates.ts';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

export function renderKubeconfig(opts: { server: string; caPem: string; user: string; client: CertificatePem; clusterName?: string }): string {
  const cluster = opts.clusterName ?? 'skein-local';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caPem) } }],
    users: [{ name: opts.user, user: { 'client-certificate-data': b64(opts.client.certPem), 'client-key-data': b64(opts.client.keyPem) } }],
    contexts: [{ name: cluster, context: { cluster, user: opts.user, namespace: 'default' } }],
    'current-context': cluster,
    preferences: {},
  });
}
