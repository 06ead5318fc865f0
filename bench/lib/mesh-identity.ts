// Mesh identity for benchmark sidecar pairs: a CA (the control plane's own, in memory), workload leaves written as the files
// `skein proxy --workload-identity DIR` reads, and the config edits that turn a plain sidecar pair into an mTLS one.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateRootSecretData, loadCaMaterial } from '../../control-plane/identity/ca-material.ts';
import { CertificateAuthority } from '../../control-plane/identity/certificate-authority.ts';
import { WORKLOAD_IDENTITY_FILES } from '../../proxy/identity/file-workload-identity.ts';

export const BENCH_TRUST_DOMAIN = 'bench.local';
/** The identities of the pair's two sidecars. */
export const BENCH_CLIENT_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/client`;
export const BENCH_SERVER_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/server`;

/** A fresh mesh root for one benchmark run. */
export function benchMeshCa(): CertificateAuthority {
  const now = Date.now();
  const material = loadCaMaterial(generateRootSecretData(BENCH_TRUST_DOMAIN, now), now);
  if (!material.ok) throw new Error(material.error.join('; '));
  return new CertificateAuthority(material.value);
}

/** A 24 h leaf for `identity` from `ca`, written as the three files `--workload-identity` reads; the PEMs too. */
export function writeWorkloadIdentity(ca: CertificateAuthority, identity: string, dir: string): { keyPem: string; certPem: string; bundlePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leaf = ca.issueWorkload(publicKey.export({ type: 'spki', format: 'der' }), identity, Date.now(), 86_400_000);
  const files = { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certPem: leaf.certificateChainPem, bundlePem: ca.trustBundlePem };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, WORKLOAD_IDENTITY_FILES.key), files.keyPem);
  writeFileSync(join(dir, WORKLOAD_IDENTITY_FILES.chain), files.certPem);
  writeFileSync(join(dir, WORKLOAD_IDENTITY_FILES.bundle), files.bundlePem);
  return files;
}

/**
 * Turns a plain pair's configs (bench/lib/skein-config.ts) into mesh mTLS, in place: every inbound listener strict, every
 * outbound cluster meshed and expecting `serverIdentity` of its endpoints. Each proxy then needs `--workload-identity`.
 */
export function meshPairConfigs(inbound: Record<string, unknown>, outbound: Record<string, unknown>, serverIdentity: string): void {
  for (const l of inbound.listeners as Record<string, unknown>[]) l.mtls = { mode: 'strict' };
  for (const c of outbound.clusters as Record<string, unknown>[]) {
    c.meshTls = {};
    c.endpoints = (c.endpoints as Record<string, unknown>[]).map((e) => ({ ...e, identity: serverIdentity }));
  }
}
