// One version of this workload's TLS material (key, leaf chain, trust bundle) checked and turned into a TLS context.
import { X509Certificate, type KeyObject } from 'node:crypto';
import tls from 'node:tls';
import { parseSpiffeId } from '../../api/proto/identity.ts';
import { EKU_CLIENT_AUTH, verifyPeerCertificate } from './peer-certificate.ts';

/** What the connector and the inbound listener use; replaced as a whole on every renewal (never mutated). */
export interface WorkloadTls {
  /** Changes with every certificate or bundle: part of every pool key, so a rotation never reuses a stale pool. */
  readonly version: string;
  readonly identity: string;
  readonly trustDomain: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** Our key and chain, the bundle's roots, TLS 1.3 only: for outbound connections and the inbound listener alike. */
  readonly context: tls.SecureContext;
  /** The roots of the trust bundle (several during a root rotation). */
  readonly roots: readonly X509Certificate[];
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERT_RE) ?? []).map((b) => new X509Certificate(b));
}

/**
 * Whether `leaf` (with the `intermediates` it came with) chains to one of `roots`, every link signed and valid at `nowMs`;
 * the reason when not. Our own check, so that a peer's chain is judged against the bundle in use NOW (a resumed TLS session
 * would otherwise carry a verdict made against an older bundle).
 */
export function chainReason(leaf: X509Certificate, intermediates: readonly X509Certificate[], roots: readonly X509Certificate[], nowMs: number): string | null {
  let cur = leaf;
  for (let depth = 0; depth < 5; depth++) {
    for (const r of roots) if (cur.checkIssued(r) && cur.verify(r.publicKey)) return validAt(r, nowMs) ? null : 'trust root not valid now';
    const next = intermediates.find((c) => c !== cur && c.ca && cur.checkIssued(c) && cur.verify(c.publicKey));
    if (next === undefined) return 'does not chain to a root of the trust bundle';
    if (!validAt(next, nowMs)) return 'intermediate not valid now';
    cur = next;
  }
  return 'chain too long';
}

function validAt(c: X509Certificate, nowMs: number): boolean {
  return Date.parse(c.validFrom) <= nowMs && nowMs <= Date.parse(c.validTo);
}

let versions = 0;

/**
 * Checks what the CA returned for our key and identity (a leaf for exactly this key and id, usable as client and server,
 * chaining to the bundle) and builds the material; the reason when it does not hold.
 */
export function buildWorkloadTls(privateKey: KeyObject, identity: string, chainPem: string, bundlePem: string, nowMs: number): WorkloadTls | string {
  const parsed = parseSpiffeId(identity);
  if (parsed === null) return `not a workload SPIFFE id: ${identity}`;
  let chain: X509Certificate[];
  let roots: X509Certificate[];
  try {
    chain = certificates(chainPem);
    roots = certificates(bundlePem);
  } catch (e) {
    return `unreadable certificate: ${(e as Error).message}`;
  }
  const leaf = chain[0];
  if (leaf === undefined) return 'no certificate in the chain';
  if (roots.length === 0) return 'empty trust bundle';
  if (!leaf.checkPrivateKey(privateKey)) return 'the certificate is not for our key';
  // Our leaf serves both roles: it must pass the checks our peers will make, as server and as client.
  const asServer = verifyPeerCertificate(leaf, { role: 'server', identity, trustDomain: parsed.trustDomain }, nowMs);
  if (!asServer.ok) return asServer.reason;
  if (!(leaf.keyUsage ?? []).includes(EKU_CLIENT_AUTH)) return 'certificate lacks the clientAuth extended key usage';
  const chainProblem = chainReason(leaf, chain.slice(1), roots, nowMs);
  if (chainProblem !== null) return chainProblem;
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ key: keyPem, cert: chainPem, ca: roots.map((r) => r.toString()), minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
  } catch (e) {
    return `unusable key or certificate: ${(e as Error).message}`;
  }
  return {
    version: `${++versions}.${leaf.serialNumber.slice(-8)}`,
    identity,
    trustDomain: parsed.trustDomain,
    notBeforeMs: Date.parse(leaf.validFrom),
    notAfterMs: Date.parse(leaf.validTo),
    context,
    roots,
  };
}
