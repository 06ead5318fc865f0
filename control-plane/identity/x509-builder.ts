// X.509 certificates written as DER and signed by node:crypto: the pieces the CA assembles (names, extensions, TBSCertificate).
//
// Measured against node-forge (docs/identity.md): forge can only sign with RSA in pure JavaScript (about 26 leaves/s/core
// here), while a TBSCertificate written with api/identity/der.ts and signed natively with ECDSA P-256 issues thousands.
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { ctx, nul, oid, readDer, children, seq, set, smallInt, tlv, TAG, time, uint, utf8, bool, bitString, expectTag } from '../../api/identity/der.ts';

export const X509_OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
} as const;

/** KeyUsage bits (RFC 5280 4.2.1.3), bit 0 first. */
export const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

/** How a CA key signs: the AlgorithmIdentifier to write and the node:crypto arguments. */
export interface CertificateSigner {
  readonly key: KeyObject;
  readonly algorithm: Buffer;
  readonly hash: string;
  readonly dsaEncoding?: 'der';
}

/** A signer for an ECDSA (SHA-256) or RSA (PKCS#1 v1.5, SHA-256) CA key; other key types cannot sign for us. */
export function signerFor(key: KeyObject): CertificateSigner | null {
  if (key.asymmetricKeyType === 'ec') return { key, algorithm: seq(oid('1.2.840.10045.4.3.2')), hash: 'sha256', dsaEncoding: 'der' };
  if (key.asymmetricKeyType === 'rsa') return { key, algorithm: seq(oid('1.2.840.113549.1.1.11'), nul()), hash: 'sha256' };
  return null;
}

/** A DER Name of one RDN per attribute, in order (an empty list is the empty Name). */
export function x509Name(attributes: readonly { readonly oid: string; readonly value: string }[]): Buffer {
  return seq(...attributes.map((a) => set(seq(oid(a.oid), utf8(a.value)))));
}

export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), tlv(TAG.OCTET_STRING, value)) : seq(oid(id), tlv(TAG.OCTET_STRING, value));
}

export function basicConstraints(ca: boolean): Buffer {
  return extension(X509_OID.basicConstraints, true, ca ? seq(bool(true)) : seq());
}

export function keyUsage(bits: readonly number[]): Buffer {
  const bytes = Buffer.alloc(Math.floor(Math.max(...bits) / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  // DER drops trailing zero bits: the unused-bit count is the number of zero bits at the end of the last byte.
  const last = bytes[bytes.length - 1]!;
  let unused = 0;
  while (unused < 7 && (last & (1 << unused)) === 0) unused++;
  return extension(X509_OID.keyUsage, true, tlv(TAG.BIT_STRING, Buffer.from([unused]), bytes));
}

export function extKeyUsage(purposes: readonly string[]): Buffer {
  return extension(X509_OID.extKeyUsage, false, seq(...purposes.map((p) => oid(p))));
}

/** The subjectPublicKey bits of a DER SubjectPublicKeyInfo. */
function subjectPublicKeyBits(spki: Buffer): Buffer {
  const [, bits] = children(readDer(spki));
  return expectTag(bits, TAG.BIT_STRING, 'subjectPublicKey').content.subarray(1);
}

/** RFC 5280 key identifier method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
}

export function subjectKeyIdentifier(spki: Buffer): Buffer {
  return extension(X509_OID.subjectKeyIdentifier, false, tlv(TAG.OCTET_STRING, keyIdentifier(spki)));
}

export function authorityKeyIdentifier(issuerKeyId: Buffer): Buffer {
  return extension(X509_OID.authorityKeyIdentifier, false, seq(ctx(0, false, issuerKeyId)));
}

/**
 * A positive 16-byte serial whose first byte is neither zero nor has its top bit set: a leading zero byte would make a
 * non-minimal DER INTEGER (Go's parser refuses those; see commit 54f46d8), and a set top bit would need a padding byte.
 */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! % 0x7f) + 1;
  return b;
}

export interface TbsFields {
  readonly serial: Buffer;
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  readonly extensions: readonly Buffer[];
}

/** A signed DER certificate (X.509 v3). */
export function signCertificate(fields: TbsFields, signer: CertificateSigner): Buffer {
  const tbs = seq(
    ctx(0, true, smallInt(2)),
    uint(fields.serial),
    signer.algorithm,
    fields.issuer,
    seq(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    fields.spki,
    ctx(3, true, seq(...fields.extensions)),
  );
  const signature = sign(signer.hash, tbs, signer.dsaEncoding ? { key: signer.key, dsaEncoding: signer.dsaEncoding } : signer.key);
  return seq(tbs, signer.algorithm, bitString(signature));
}

/** The raw DER subject Name of a certificate (what a child's issuer field must repeat byte for byte). */
export function subjectNameOf(certDer: Buffer): Buffer {
  const [tbs] = children(readDer(certDer));
  const fields = children(tbs!);
  // version [0] is present in every v3 certificate we accept; subject is then the sixth field.
  const offset = fields[0]!.tag === 0xa0 ? 1 : 0;
  return Buffer.from(fields[4 + offset]!.der);
}

export function toPem(der: Buffer, label = 'CERTIFICATE'): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}
