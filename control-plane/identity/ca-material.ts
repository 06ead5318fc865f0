// The CA's key material as it lives in its Kubernetes Secret: generated once (a self-signed ECDSA P-256 root), or brought by
// the user (an intermediate under their root); validated whole before use, so a bad Secret never half-applies.
//
// Secret layout (type kubernetes.io/tls, the shape cert-manager writes too):
//   tls.key  the signing key (PKCS#8 PEM; ECDSA or RSA)
//   tls.crt  the signing certificate first, then any intermediates up to (not including) a root
//   ca.crt   the trust bundle: every root proxies must trust (two during a root rotation)
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { err, ok, type Result } from '../../api/result.ts';
import {
  basicConstraints, keyUsage, KEY_USAGE, randomSerial, signCertificate, signerFor, subjectKeyIdentifier, toPem, x509Name, X509_OID,
} from './x509-builder.ts';

export const CA_SECRET_NAME = 'skein-identity-ca';
export const CA_SECRET_NAMESPACE = 'skein-system';
export const CA_SECRET_KEYS = { key: 'tls.key', chain: 'tls.crt', bundle: 'ca.crt' } as const;

/** A generated root lives ten years; rotating it is a documented, deliberate act (docs/identity.md). */
export const ROOT_VALIDITY_MS = 10 * 365 * 86_400_000;

/** The Secret's data, decoded to text. */
export type CaSecretData = Readonly<Record<string, string>>;

/** Validated CA material: the signing key and certificate, the intermediates to send with each leaf, the roots to trust. */
export interface CaMaterial {
  readonly signingKey: KeyObject;
  readonly signingCert: X509Certificate;
  /** Certificates sent after each leaf: tls.crt minus any self-signed root (empty when the CA is itself the root). */
  readonly intermediates: readonly X509Certificate[];
  readonly roots: readonly X509Certificate[];
}

const PEM_BLOCK_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle, in order, or the reason one is unreadable. */
export function parseCertificates(pem: string, what: string): Result<X509Certificate[], string> {
  const blocks = pem.match(PEM_BLOCK_RE) ?? [];
  if (blocks.length === 0) return err(`${what}: no PEM certificate`);
  const out: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      out.push(new X509Certificate(block));
    } catch (e) {
      return err(`${what}: certificate ${i + 1} is unreadable (${(e as Error).message})`);
    }
  }
  return ok(out);
}

function selfSigned(c: X509Certificate): boolean {
  return c.checkIssued(c) && c.verify(c.publicKey);
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

function validAt(c: X509Certificate, now: number): boolean {
  return Date.parse(c.validFrom) <= now && now < Date.parse(c.validTo);
}

/** Checks the Secret's data as a whole; every problem found is reported at once. */
export function loadCaMaterial(data: CaSecretData, now: number): Result<CaMaterial, string[]> {
  const problems: string[] = [];
  for (const k of Object.values(CA_SECRET_KEYS)) if (!data[k]?.trim()) problems.push(`${k} is missing or empty`);
  if (problems.length > 0) return err(problems);
  let signingKey: KeyObject;
  try {
    signingKey = createPrivateKey(data[CA_SECRET_KEYS.key]!);
  } catch (e) {
    return err([`${CA_SECRET_KEYS.key}: not a readable private key (${(e as Error).message})`]);
  }
  if (!signerFor(signingKey)) problems.push(`${CA_SECRET_KEYS.key}: a ${signingKey.asymmetricKeyType} key cannot sign here (use ECDSA or RSA)`);
  const chain = parseCertificates(data[CA_SECRET_KEYS.chain]!, CA_SECRET_KEYS.chain);
  const roots = parseCertificates(data[CA_SECRET_KEYS.bundle]!, CA_SECRET_KEYS.bundle);
  if (!chain.ok) problems.push(chain.error);
  if (!roots.ok) problems.push(roots.error);
  if (!chain.ok || !roots.ok) return err(problems);
  const signingCert = chain.value[0]!;
  if (!signingCert.ca) problems.push(`${CA_SECRET_KEYS.chain}: the first certificate is not a CA (basicConstraints CA:TRUE)`);
  if (!signingCert.checkPrivateKey(signingKey)) problems.push(`${CA_SECRET_KEYS.key} does not belong to the first certificate of ${CA_SECRET_KEYS.chain}`);
  if (!validAt(signingCert, now)) problems.push(`${CA_SECRET_KEYS.chain}: the signing certificate is not valid now (${signingCert.validFrom} .. ${signingCert.validTo})`);
  for (const [i, r] of roots.value.entries()) {
    if (!r.ca || !selfSigned(r)) problems.push(`${CA_SECRET_KEYS.bundle}: certificate ${i + 1} is not a self-signed CA certificate`);
  }
  for (let i = 0; i + 1 < chain.value.length; i++) {
    if (!issuedBy(chain.value[i]!, chain.value[i + 1]!)) problems.push(`${CA_SECRET_KEYS.chain}: certificate ${i + 1} is not issued by certificate ${i + 2}`);
  }
  const top = chain.value[chain.value.length - 1]!;
  const anchored = roots.value.some((r) => r.raw.equals(top.raw) || issuedBy(top, r));
  if (!anchored) problems.push(`${CA_SECRET_KEYS.chain} does not lead to a root of ${CA_SECRET_KEYS.bundle}`);
  if (problems.length > 0) return err(problems);
  return ok({ signingKey, signingCert, intermediates: chain.value.filter((c) => !selfSigned(c)), roots: roots.value });
}

function stamp(now: number): string {
  return new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** A fresh self-signed ECDSA P-256 root for `trustDomain`, as Secret data. */
export function generateRootSecretData(trustDomain: string, now: number): CaSecretData {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // The creation time in the name keeps two generations of roots apart by subject as well as by key identifier.
  const name = x509Name([{ oid: X509_OID.organizationName, value: 'skein' }, { oid: X509_OID.commonName, value: `skein root ${trustDomain} ${stamp(now)}` }]);
  const der = signCertificate({
    serial: randomSerial(),
    issuer: name,
    subject: name,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + ROOT_VALIDITY_MS),
    spki,
    extensions: [basicConstraints(true), keyUsage([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]), subjectKeyIdentifier(spki)],
  }, signerFor(privateKey)!);
  const pem = toPem(der);
  return {
    [CA_SECRET_KEYS.key]: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    [CA_SECRET_KEYS.chain]: pem,
    [CA_SECRET_KEYS.bundle]: pem,
  };
}
