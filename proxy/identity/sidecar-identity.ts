// The sidecar's workload identity from the injector's environment: SPIFFE id, projected token, mesh roots, Certify address.
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { DEFAULT_TRUST_DOMAIN, IDENTITY_PORT, parseSpiffeId, spiffeId } from '../../api/proto/identity.ts';
import { MESH_CA_ROOT_PATH, MESH_TOKEN_PATH, SIDECAR_ENV } from '../../api/mesh/mesh-constants.ts';
import type { LogSink } from '../telemetry/rate-limited-log.ts';
import { certifyClient } from './certify-client.ts';
import type { IdentityMetrics } from './identity-metrics.ts';
import { WorkloadCertificateManager, type Certify } from './workload-certificate-manager.ts';

/** The identity service's host:port: the control plane's host (from its config address) on the identity port. */
export function identityAddress(controlPlaneAddress: string): string {
  const colon = controlPlaneAddress.lastIndexOf(':');
  const host = colon > 0 && !controlPlaneAddress.endsWith(']') ? controlPlaneAddress.slice(0, colon) : controlPlaneAddress;
  return `${host}:${IDENTITY_PORT}`;
}

/**
 * The certificate manager for this pod, or the reason there is none (no ServiceAccount, no control plane address, no CA
 * root file): the sidecar then runs without mesh mTLS and says so in its log.
 */
export function sidecarIdentity(env: NodeJS.ProcessEnv, metrics: IdentityMetrics, log: LogSink): WorkloadCertificateManager | string {
  const ns = env[SIDECAR_ENV.podNamespace];
  const sa = env[SIDECAR_ENV.serviceAccount];
  const cp = env[SIDECAR_ENV.controlPlaneAddress];
  if (!ns || !sa) return 'no pod namespace or ServiceAccount in the environment';
  if (!cp) return 'no control plane address in the environment';
  const id = spiffeId(env[SIDECAR_ENV.trustDomain] || DEFAULT_TRUST_DOMAIN, ns, sa);
  if (parseSpiffeId(id) === null) return `not a valid SPIFFE id: ${id}`;
  // The roots the injector put in the environment (the control plane's published trust bundle), else a mounted file.
  let rootPem = env[SIDECAR_ENV.trustAnchors]?.trim() ?? '';
  if (rootPem === '') {
    const rootPath = env[SIDECAR_ENV.caRootPath] || MESH_CA_ROOT_PATH;
    try {
      rootPem = readFileSync(rootPath, 'utf8');
    } catch (e) {
      return `no ${SIDECAR_ENV.trustAnchors} and cannot read the mesh CA root ${rootPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
  }
  const address = identityAddress(cp);
  // The first call trusts the mounted root; later calls trust the bundle Certify last returned (a root rotation moves on).
  let client = certifyClient({ address, caPem: rootPem });
  let clientCa = rootPem;
  let bundle: string | null = null;
  const certify: Certify = async (req) => {
    const ca = bundle ?? rootPem;
    if (ca !== clientCa) {
      client.close();
      client = certifyClient({ address, caPem: ca });
      clientCa = ca;
    }
    const res = await client.certify(req);
    bundle = res.trustBundlePem;
    return res;
  };
  return new WorkloadCertificateManager({
    identity: id,
    certify,
    token: () => readFile(MESH_TOKEN_PATH, 'utf8'),
    metrics,
    log,
  });
}
