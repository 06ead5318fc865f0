// Issues the webhook's own certificate authority and serving certificates (RSA keys from node:crypto, X.509 by node-forge).
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
  readonly notAfter: Date;
}

export interface ServingCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Hex serial, to tell certificates apart in tests and logs. */
  readonly serial: string;
}

function rsaKeyPair(): { publicKey: forge.pki.PublicKey; privateKey: forge.pki.PrivateKey; keyPem: string } {
  // Key generation in native code (milliseconds), not in forge's pure JS (seconds).
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKey: forge.pki.publicKeyFromPem(publicKey), privateKey: forge.pki.privateKeyFromPem(privateKey), keyPem: privateKey };
}

function serialHex(): string {
  const b = randomBytes(16);
  // A positive INTEGER whose first byte is not zero: DER keeps it as written, so the serial a client reads back is this one.
  b[0] = (b[0]! % 0x7f) + 1;
  return b.toString('hex');
}

// Validity starts a little in the past: the API server's clock may lag ours.
const BACKDATE_MS = 5 * 60_000;

export function createCertificateAuthority(opts: { commonName: string; validityMs: number; now?: number }): CertificateAuthority {
  const now = opts.now ?? Date.now();
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + opts.validityMs);
  const name = [{ name: 'commonName', value: opts.commonName }, { name: 'organizationName', value: 'skein' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem, notAfter: cert.validity.notAfter };
}

export function issueServingCertificate(
  ca: CertificateAuthority,
  opts: { dnsNames: readonly string[]; ipAddresses?: readonly string[]; validityMs: number; now?: number },
): ServingCertificate {
  const now = opts.now ?? Date.now();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  // A leaf never outlives its CA.
  cert.validity.notAfter = new Date(Math.min(now + opts.validityMs, ca.notAfter.getTime()));
  cert.setSubject([{ name: 'commonName', value: opts.dnsNames[0] ?? 'skein-injector' }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...opts.dnsNames.map((value) => ({ type: 2, value })),
    ...(opts.ipAddresses ?? []).filter((ip) => isIP(ip) !== 0).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: keys.keyPem,
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
    serial: cert.serialNumber,
  };
}

/** Splits a PEM bundle into its certificates (anything that does not parse is dropped). */
export function splitPemBundle(bundle: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const m of bundle.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)) {
    try {
      out.push(new X509Certificate(m[0]));
    } catch {}
  }
  return out;
}

/**
 * The caBundle to write: our CAs first, then the CAs already there that are still valid (other injector replicas, or our
 * previous CA while its certificates are still served), at most `max`, no duplicates.
 */
export function mergeCaBundle(existingBase64: string | undefined, ours: readonly string[], now = Date.now(), max = 10): string {
  const existing = existingBase64 ? splitPemBundle(Buffer.from(existingBase64, 'base64').toString('utf8')) : [];
  const seen = new Set<string>();
  const pems: string[] = [];
  for (const cert of [...ours.flatMap(splitPemBundle), ...existing]) {
    if (seen.has(cert.fingerprint256) || new Date(cert.validTo).getTime() <= now) continue;
    seen.add(cert.fingerprint256);
    pems.push(cert.toString().trim());
    if (pems.length >= max) break;
  }
  return Buffer.from(pems.join('\n') + '\n').toString('base64');
}
