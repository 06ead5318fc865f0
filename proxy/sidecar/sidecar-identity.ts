// The sidecar's workload certificate from its environment: the mesh roots the injector gave it, its SPIFFE id, and Certify.
import { readFile } from 'node:fs/promises';
import { MESH_TOKEN_PATH, SIDECAR_ENV } from '../../api/mesh/mesh-constants.ts';
import { DEFAULT_TRUST_DOMAIN, IDENTITY_PORT, spiffeId } from '../../api/proto/identity.ts';
import type { LogSink } from '../telemetry/rate-limited-log.ts';
import type { ProxyMetrics } from '../telemetry/proxy-metrics.ts';

/** Where Certify is: the control plane's host at the identity port (its serving certificate names that host). */
export function identityAddress(controlPlaneAddress: string): string {
  const i = controlPlaneAddress.lastIndexOf(':');
  const host = i > 0 && !controlPlaneAddress.endsWith(']') ? controlPlaneAddress.slice(0, i) : controlPlaneAddress;
  return `${host}:${IDENTITY_PORT}`;
}

/**
 * The certificate manager of a sidecar that was given the mesh trust anchors, started; null when it was not (no identity
 * service when it was injected: it runs in plain text, as before).
 */
export async function sidecarIdentity(env: NodeJS.ProcessEnv, metrics: ProxyMetrics, log: LogSink, tokenPath = MESH_TOKEN_PATH) {
  const anchors = env[SIDECAR_ENV.trustAnchors]?.trim();
  const cp = env[SIDECAR_ENV.controlPlaneAddress]?.trim();
  if (!anchors || !cp) return null;
  const { certifyClient } = await import('../identity/certify-client.ts');
  const { WorkloadCertificateManager } = await import('../identity/workload-certificate-manager.ts');
  const { identityMetrics } = await import('../identity/identity-metrics.ts');
  const id = spiffeId(env.SKEIN_TRUST_DOMAIN?.trim() || DEFAULT_TRUST_DOMAIN, env[SIDECAR_ENV.podNamespace] ?? 'default', env[SIDECAR_ENV.serviceAccount] || 'default');
  const client = certifyClient({ address: identityAddress(cp), caPem: anchors });
  const manager = new WorkloadCertificateManager({
    identity: id,
    certify: client.certify,
    token: async () => (await readFile(tokenPath, 'utf8')).trim(),
    metrics: identityMetrics(metrics.registry),
    log,
  });
  manager.start();
  return manager;
}
