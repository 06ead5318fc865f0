// PKCS#10 certificate signing requests (RFC 2986) for workload keys: the proxy builds one, the control plane's CA parses and verifies it.
//
// node-forge cannot handle EC keys, so the structure is written and read with our strict DER module and the signature is
// made and checked by node:crypto. The parser reports what the request asks for (subject, every SAN by type, requested
// extensions, key type and curve); deciding whether that is acceptable is the CA's job (control-plane/identity/).
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { err, ok, type Result } from '../result.ts';
import {
  bitString, children, ctx, DerError, expectTag, nul, oid, readBitStringBytes, readBoolean, readDer, readOid, readSmallInt,
  seq, set, smallInt, TAG, tlv, utf8, type DerNode,
} from './der.ts';

export const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
} as const;

/** A subject alternative name by GeneralName type; `other` covers otherName, x400Address, directoryName, ediPartyName, registeredID. */
export type SubjectAltName =
  | { readonly type: 'uri'; readonly value: string }
  | { readonly type: 'dns'; readonly value: string }
  | { readonly type: 'email'; readonly value: string }
  | { readonly type: 'ip'; readonly value: string }
  | { readonly type: 'other'; readonly tag: number };

export interface CsrSubject {
  readonly commonName?: string;
  readonly organization?: string;
}

export interface BuildCsrOptions {
  /** The workload's private key (ECDSA P-256 for Skein; RSA and Ed25519 are signed too, so the CA's refusal can be tested). */
  readonly privateKey: KeyObject;
  readonly subject?: CsrSubject;
  readonly sans: readonly SubjectAltName[];
}

/** A request's subject attribute, in order. */
export interface NameAttribute {
  readonly oid: string;
  readonly value: string;
}

export interface RequestedExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
}

/** A parsed PKCS#10 request whose signature has been verified with its own public key. */
export interface ParsedCsr {
  readonly subject: readonly NameAttribute[];
  /** Every SAN of the request's subjectAltName extension, in order (URI, DNS, email and IP values as written, NULs included). */
  readonly sans: readonly SubjectAltName[];
  /** Requested extensions other than subjectAltName. */
  readonly otherExtensions: readonly RequestedExtension[];
  /** OIDs of attributes other than extensionRequest (challengePassword and the like). */
  readonly otherAttributes: readonly string[];
  readonly publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo, as the leaf will carry it. */
  readonly publicKeySpki: Buffer;
  /** node:crypto's asymmetricKeyType: 'ec', 'rsa', 'ed25519', ... */
  readonly keyType: string;
  /** node:crypto's curve name for EC keys ('prime256v1' is P-256). */
  readonly namedCurve?: string;
  readonly signatureAlgorithm: string;
}

export type CsrErrorCode = 'SKEIN_ERR_CSR_MALFORMED' | 'SKEIN_ERR_CSR_UNSUPPORTED' | 'SKEIN_ERR_CSR_SIGNATURE';

export interface CsrError {
  readonly code: CsrErrorCode;
  readonly message: string;
}

/** Larger than any honest workload CSR (about 500 bytes) by far; anything past it is refused unread. */
export const MAX_CSR_PEM_BYTES = 16 * 1024;

const SAN_TAG = { other: 0, email: 1, dns: 2, x400: 3, directory: 4, edi: 5, uri: 6, ip: 7, registeredId: 8 } as const;

/** A fresh ECDSA P-256 key pair, the kind every Skein workload holds in memory. */
export function generateWorkloadKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const groups = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function ipText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) return Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':');
  throw new DerError(`an iPAddress SAN has 4 or 16 bytes, not ${b.length}`);
}

function encodeSan(san: SubjectAltName): Buffer {
  switch (san.type) {
    case 'uri': return ctx(SAN_TAG.uri, false, Buffer.from(san.value, 'latin1'));
    case 'dns': return ctx(SAN_TAG.dns, false, Buffer.from(san.value, 'latin1'));
    case 'email': return ctx(SAN_TAG.email, false, Buffer.from(san.value, 'latin1'));
    case 'ip': return ctx(SAN_TAG.ip, false, ipBytes(san.value));
    case 'other': return ctx(san.tag, true, Buffer.alloc(0));
  }
}

/** The DER subjectAltName extension value (a GeneralNames sequence); the CA writes leaves with it too. */
export function encodeSubjectAltNames(sans: readonly SubjectAltName[]): Buffer {
  return seq(...sans.map(encodeSan));
}

function signatureAlgorithmFor(key: KeyObject): { der: Buffer; hash: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec': return { der: seq(oid(OID.ecdsaWithSha256)), hash: 'sha256' };
    case 'rsa': return { der: seq(oid(OID.sha256WithRsa), nul()), hash: 'sha256' };
    case 'ed25519': return { der: seq(oid(OID.ed25519)), hash: null };
    default: throw new Error(`cannot sign a CSR with a ${key.asymmetricKeyType ?? 'unknown'} key`);
  }
}

/** Builds and signs a PEM PKCS#10 request. */
export function buildCsr(opts: BuildCsrOptions): string {
  const spki = createPublicKey(opts.privateKey).export({ type: 'spki', format: 'der' });
  const rdns: Buffer[] = [];
  if (opts.subject?.organization !== undefined) rdns.push(set(seq(oid(OID.organizationName), utf8(opts.subject.organization))));
  if (opts.subject?.commonName !== undefined) rdns.push(set(seq(oid(OID.commonName), utf8(opts.subject.commonName))));
  const attributes = opts.sans.length === 0
    ? ctx(0, true, Buffer.alloc(0))
    : ctx(0, true, seq(oid(OID.extensionRequest), set(seq(seq(oid(OID.subjectAltName), tlv(TAG.OCTET_STRING, encodeSubjectAltNames(opts.sans)))))));
  const info = seq(smallInt(0), seq(...rdns), spki, attributes);
  const alg = signatureAlgorithmFor(opts.privateKey);
  const signature = sign(alg.hash, info, opts.privateKey.asymmetricKeyType === 'ec' ? { key: opts.privateKey, dsaEncoding: 'der' } : opts.privateKey);
  return toPem(seq(info, alg.der, bitString(signature)));
}

/** The CSR a Skein workload sends: no subject, its SPIFFE id as the only (URI) SAN. */
export function buildWorkloadCsr(privateKey: KeyObject, spiffeId: string): string {
  return buildCsr({ privateKey, sans: [{ type: 'uri', value: spiffeId }] });
}

function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`;
}

const PEM_RE = /^\s*-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END (?:NEW )?CERTIFICATE REQUEST-----\s*$/;

function fromPem(pem: string): Buffer {
  const m = PEM_RE.exec(pem);
  if (!m) throw new DerError('not one PEM "CERTIFICATE REQUEST" block');
  const b64 = m[1]!.replace(/\r?\n/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new DerError('invalid base64 in the PEM block');
  return Buffer.from(b64, 'base64');
}

function readString(node: DerNode): string {
  switch (node.tag) {
    case TAG.UTF8_STRING: return node.content.toString('utf8');
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING: return node.content.toString('latin1');
    default: throw new DerError(`unsupported string type 0x${node.tag.toString(16)} in the subject`);
  }
}

function readName(node: DerNode): NameAttribute[] {
  const out: NameAttribute[] = [];
  for (const rdn of children(expectTag(node, TAG.SEQUENCE, 'subject'))) {
    const atvs = children(expectTag(rdn, TAG.SET, 'relative distinguished name'));
    if (atvs.length === 0) throw new DerError('empty relative distinguished name');
    for (const atv of atvs) {
      const [type, value, extra] = children(expectTag(atv, TAG.SEQUENCE, 'subject attribute'));
      if (!type || !value || extra) throw new DerError('a subject attribute is a type and one value');
      out.push({ oid: readOid(type), value: readString(value) });
    }
  }
  return out;
}

function readSans(value: Buffer): SubjectAltName[] {
  const names = children(expectTag(readDer(value), TAG.SEQUENCE, 'subjectAltName'));
  if (names.length === 0) throw new DerError('an empty subjectAltName extension');
  return names.map((n): SubjectAltName => {
    if ((n.tag & 0xc0) !== 0x80) throw new DerError('a GeneralName is context-tagged');
    const tag = n.tag & 0x1f;
    const primitive = !n.constructed;
    if (tag === SAN_TAG.uri && primitive) return { type: 'uri', value: n.content.toString('latin1') };
    if (tag === SAN_TAG.dns && primitive) return { type: 'dns', value: n.content.toString('latin1') };
    if (tag === SAN_TAG.email && primitive) return { type: 'email', value: n.content.toString('latin1') };
    if (tag === SAN_TAG.ip && primitive) return { type: 'ip', value: ipText(n.content) };
    if (tag > SAN_TAG.registeredId) throw new DerError(`unknown GeneralName tag [${tag}]`);
    return { type: 'other', tag };
  });
}

interface Extensions {
  sans: SubjectAltName[];
  other: RequestedExtension[];
}

function readExtensionRequest(values: DerNode): Extensions {
  const [exts, extra] = children(expectTag(values, TAG.SET, 'extensionRequest values'));
  if (!exts || extra) throw new DerError('extensionRequest holds exactly one Extensions value');
  const out: Extensions = { sans: [], other: [] };
  const seen = new Set<string>();
  for (const ext of children(expectTag(exts, TAG.SEQUENCE, 'extensions'))) {
    const parts = children(expectTag(ext, TAG.SEQUENCE, 'extension'));
    const id = readOid(parts[0]!);
    if (seen.has(id)) throw new DerError(`extension ${id} appears twice`);
    seen.add(id);
    let i = 1;
    let critical = false;
    if (parts[i]?.tag === TAG.BOOLEAN) {
      critical = readBoolean(parts[i]!);
      if (!critical) throw new DerError('a DER extension omits critical=false (it is the default)');
      i++;
    }
    const value = expectTag(parts[i], TAG.OCTET_STRING, 'extension value').content;
    if (parts.length !== i + 1) throw new DerError('extra fields in an extension');
    if (id === OID.subjectAltName) out.sans = readSans(value);
    else out.other.push({ oid: id, critical, value: Buffer.from(value) });
  }
  return out;
}

const SIGNATURE_HASH: Record<string, string | null> = {
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
  [OID.sha256WithRsa]: 'sha256',
  [OID.ed25519]: null,
};

/** Parses a PEM PKCS#10 request strictly and verifies its self-signature; every failure is a value. */
export function parseCsr(pem: string): Result<ParsedCsr, CsrError> {
  if (pem.length > MAX_CSR_PEM_BYTES) return err({ code: 'SKEIN_ERR_CSR_MALFORMED', message: `CSR larger than ${MAX_CSR_PEM_BYTES} bytes` });
  let info: DerNode;
  let algId: string;
  let signature: Buffer;
  let parsed: Omit<ParsedCsr, 'publicKey' | 'keyType' | 'namedCurve' | 'signatureAlgorithm'>;
  try {
    const [infoNode, algNode, sigNode, extra] = children(expectTag(readDer(fromPem(pem)), TAG.SEQUENCE, 'CertificationRequest'));
    if (extra) throw new DerError('extra fields after the signature');
    info = expectTag(infoNode, TAG.SEQUENCE, 'certificationRequestInfo');
    const algParts = children(expectTag(algNode, TAG.SEQUENCE, 'signatureAlgorithm'));
    algId = readOid(algParts[0]!);
    signature = readBitStringBytes(expectTag(sigNode, TAG.BIT_STRING, 'signature'));
    const [version, subject, spki, attrs, more] = children(info);
    if (readSmallInt(version!) !== 0) throw new DerError('only version 1 (0) requests exist');
    if (more) throw new DerError('extra fields in certificationRequestInfo');
    const attributes = children(expectTag(attrs, 0xa0, 'attributes [0]'));
    let ext: Extensions = { sans: [], other: [] };
    const otherAttributes: string[] = [];
    let sawExtensionRequest = false;
    for (const attr of attributes) {
      const [type, values, extraAttr] = children(expectTag(attr, TAG.SEQUENCE, 'attribute'));
      if (!type || !values || extraAttr) throw new DerError('an attribute is a type and a set of values');
      const id = readOid(type);
      if (id !== OID.extensionRequest) {
        otherAttributes.push(id);
        continue;
      }
      if (sawExtensionRequest) throw new DerError('extensionRequest appears twice');
      sawExtensionRequest = true;
      ext = readExtensionRequest(values);
    }
    parsed = {
      subject: readName(subject!),
      sans: ext.sans,
      otherExtensions: ext.other,
      otherAttributes,
      publicKeySpki: Buffer.from(expectTag(spki, TAG.SEQUENCE, 'subjectPublicKeyInfo').der),
    };
  } catch (e) {
    if (e instanceof DerError) return err({ code: 'SKEIN_ERR_CSR_MALFORMED', message: e.message });
    throw e;
  }
  if (!(algId in SIGNATURE_HASH)) return err({ code: 'SKEIN_ERR_CSR_UNSUPPORTED', message: `unsupported signature algorithm ${algId}` });
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: parsed.publicKeySpki, format: 'der', type: 'spki' });
  } catch (e) {
    return err({ code: 'SKEIN_ERR_CSR_UNSUPPORTED', message: `unreadable public key: ${(e as Error).message}` });
  }
  const keyType = publicKey.asymmetricKeyType ?? 'unknown';
  const matches = algId === OID.ed25519 ? keyType === 'ed25519' : algId === OID.sha256WithRsa ? keyType === 'rsa' : keyType === 'ec';
  if (!matches) return err({ code: 'SKEIN_ERR_CSR_SIGNATURE', message: `signature algorithm ${algId} does not fit a ${keyType} key` });
  let good: boolean;
  try {
    good = verify(SIGNATURE_HASH[algId]!, info.der, keyType === 'ec' ? { key: publicKey, dsaEncoding: 'der' } : publicKey, signature);
  } catch {
    good = false;
  }
  if (!good) return err({ code: 'SKEIN_ERR_CSR_SIGNATURE', message: 'the CSR signature does not verify with its own public key' });
  const namedCurve = publicKey.asymmetricKeyDetails?.namedCurve;
  return ok({ ...parsed, publicKey, keyType, ...(namedCurve ? { namedCurve } : {}), signatureAlgorithm: algId });
}
