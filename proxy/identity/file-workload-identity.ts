// A workload identity read once from files (`tls.key`, `tls.crt`, `ca.crt` in one directory): for a proxy outside the
// cluster (the benchmark's sidecar pair, a test) whose certificate is managed by someone else. It never renews.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkloadTlsSource } from '../proxy-runtime.ts';
import { buildWorkloadTls, type WorkloadTls } from './workload-tls.ts';

/** The file names, as in a kubernetes.io/tls Secret plus its CA (the control plane's CA Secret uses the same three). */
export const WORKLOAD_IDENTITY_FILES = { key: 'tls.key', chain: 'tls.crt', bundle: 'ca.crt' } as const;

/**
 * The identity in `dir`, checked as a certificate from Certify is (one SPIFFE URI SAN, both EKUs, for our key, chaining to
 * the bundle), or the reason it cannot be used. The SPIFFE id is the leaf's own.
 */
export function fileWorkloadIdentity(dir: string, nowMs: number): (WorkloadTlsSource & { notReadyReason(): string | null }) | string {
  let key: string;
  let chain: string;
  let bundle: string;
  try {
    key = readFileSync(join(dir, WORKLOAD_IDENTITY_FILES.key), 'utf8');
    chain = readFileSync(join(dir, WORKLOAD_IDENTITY_FILES.chain), 'utf8');
    bundle = readFileSync(join(dir, WORKLOAD_IDENTITY_FILES.bundle), 'utf8');
  } catch (e) {
    return `cannot read the workload identity in ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  let identity: string | undefined;
  let privateKey;
  try {
    const uris = (new X509Certificate(chain).subjectAltName ?? '').split(', ').filter((s) => s.startsWith('URI:'));
    identity = uris.length === 1 ? uris[0]!.slice(4) : undefined;
    privateKey = createPrivateKey(key);
  } catch (e) {
    return `unreadable key or certificate in ${dir}: ${(e as Error).message}`;
  }
  if (identity === undefined) return `the certificate in ${dir} does not name exactly one URI SAN (its SPIFFE id)`;
  const tls = buildWorkloadTls(privateKey, identity, chain, bundle, nowMs);
  if (typeof tls === 'string') return `the workload identity in ${dir} is not usable: ${tls}`;
  const current: WorkloadTls = tls;
  return { current: () => current, onRotate: () => () => {}, notReadyReason: () => null };
}
