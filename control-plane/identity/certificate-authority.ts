// The CA that signs workload leaves (SPIFFE X.509-SVIDs) and the control plane's own serving certificate.
//
// Everything that is the same for every leaf (issuer name, signature algorithm, key usages, authority key id, the PEM of the
// chain and bundle) is written once per CA; a leaf costs a random serial, two times, its SAN, and one native signature.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { encodeSubjectAltNames } from '../../api/identity/pkcs10.ts';
import type { CaMaterial } from './ca-material.ts';
import {
  authorityKeyIdentifier, basicConstraints, extension, extKeyUsage, keyIdentifier, keyUsage, KEY_USAGE, randomSerial, signCertificate,
  signerFor, subjectNameOf, toPem, X509_OID, type CertificateSigner,
} from './x509-builder.ts';

/** Leaves start this much in the past, so a proxy whose clock runs a little behind accepts a fresh certificate. */
export const CLOCK_SKEW_BACKDATE_MS = 5 * 60_000;
export const DEFAULT_LEAF_TTL_MS = 24 * 3600_000;

const EMPTY_NAME = Buffer.from([0x30, 0x00]);

export interface IssuedLeaf {
  /** The leaf, then the intermediates (no root). */
  readonly certificateChainPem: string;
  readonly notAfter: Date;
}

export class CertificateAuthority {
  readonly #signer: CertificateSigner;
  readonly #issuer: Buffer;
  readonly #notAfterLimit: number;
  readonly #leafExtensions: readonly Buffer[];
  readonly #servingExtensions: readonly Buffer[];
  readonly #intermediatesPem: string;
  /** Every root, PEM, concatenated: what proxies must trust. */
  readonly trustBundlePem: string;
  /** SHA-256 fingerprint of the signing certificate (logs, /debug). */
  readonly fingerprint: string;
  /** When the signing certificate expires (no leaf outlives it). */
  readonly notAfter: Date;

  constructor(material: CaMaterial) {
    const signer = signerFor(material.signingKey);
    if (!signer) throw new Error('cannot happen: loadCaMaterial admits only keys that can sign');
    this.#signer = signer;
    this.#issuer = subjectNameOf(material.signingCert.raw);
    this.#notAfterLimit = Date.parse(material.signingCert.validTo);
    const aki = authorityKeyIdentifier(keyIdentifier(material.signingCert.publicKey.export({ type: 'spki', format: 'der' })));
    this.#leafExtensions = [
      basicConstraints(false),
      keyUsage([KEY_USAGE.digitalSignature]),
      extKeyUsage([X509_OID.serverAuth, X509_OID.clientAuth]),
      aki,
    ];
    this.#servingExtensions = [basicConstraints(false), keyUsage([KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment]), extKeyUsage([X509_OID.serverAuth]), aki];
    this.#intermediatesPem = material.intermediates.map((c) => c.toString()).join('');
    this.trustBundlePem = material.roots.map((c) => c.toString()).join('');
    this.fingerprint = material.signingCert.fingerprint256;
    this.notAfter = new Date(this.#notAfterLimit);
  }

  #validity(now: number, ttlMs: number): { notBefore: Date; notAfter: Date } {
    // Whole seconds, as the certificate stores them, so the expiry we report is the one the certificate says. A leaf
    // never outlives its issuer: clients would refuse the chain at the issuer's expiry anyway.
    const t = Math.floor(now / 1000) * 1000;
    return { notBefore: new Date(t - CLOCK_SKEW_BACKDATE_MS), notAfter: new Date(Math.min(t + ttlMs, Math.floor(this.#notAfterLimit / 1000) * 1000)) };
  }

  /**
   * A workload leaf for `spiffeId` over the (already validated) public key `spki`: empty subject, the id as the only,
   * critical, URI SAN, EKU serverAuth + clientAuth.
   */
  issueWorkload(spki: Buffer, spiffeId: string, now: number, ttlMs = DEFAULT_LEAF_TTL_MS): IssuedLeaf {
    const { notBefore, notAfter } = this.#validity(now, ttlMs);
    const san = extension(X509_OID.subjectAltName, true, encodeSubjectAltNames([{ type: 'uri', value: spiffeId }]));
    const der = signCertificate({ serial: randomSerial(), issuer: this.#issuer, subject: EMPTY_NAME, notBefore, notAfter, spki, extensions: [...this.#leafExtensions, san] }, this.#signer);
    return { certificateChainPem: toPem(der) + this.#intermediatesPem, notAfter };
  }

  /** A TLS serving certificate and its fresh ECDSA P-256 key for the control plane's own DNS names. */
  issueServing(dnsNames: readonly string[], now: number, ttlMs: number): { certChainPem: string; keyPem: string; notAfter: Date } {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { notBefore, notAfter } = this.#validity(now, ttlMs);
    const san = extension(X509_OID.subjectAltName, true, encodeSubjectAltNames(dnsNames.map((value) => ({ type: 'dns' as const, value }))));
    const der = signCertificate({
      serial: randomSerial(), issuer: this.#issuer, subject: EMPTY_NAME, notBefore, notAfter,
      spki: publicKey.export({ type: 'spki', format: 'der' }), extensions: [...this.#servingExtensions, san],
    }, this.#signer);
    return { certChainPem: toPem(der) + this.#intermediatesPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, notAfter };
  }

  /** For tests and /debug: the leaf of a chain as node:crypto reads it. */
  static leafOf(chainPem: string): X509Certificate {
    return new X509Certificate(chainPem);
  }
}
