// A small, strict DER writer and reader for the identity service's PKCS#10 requests and X.509 certificates.
//
// Why our own: node-forge's ASN.1 works on binary strings (slow on the issuance path) and its parser is lenient (BER
// indefinite lengths, non-minimal lengths), while a CA must refuse anything that is not canonical DER. The reader checks
// every length against its container and refuses high tag numbers, indefinite and non-minimal lengths and trailing bytes.

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Thrown by the reader only; callers at module boundaries turn it into a Result. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

// ---- writer ----

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: `tag` (a single identifier byte, class and constructed bit included) around `content`. */
export function tlv(tag: number, ...content: readonly Buffer[]): Buffer {
  const body = content.length === 1 ? content[0]! : Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const seq = (...items: readonly Buffer[]): Buffer => tlv(TAG.SEQUENCE, ...items);
export const set = (...items: readonly Buffer[]): Buffer => tlv(TAG.SET, ...items);
export const octets = (b: Buffer): Buffer => tlv(TAG.OCTET_STRING, b);
export const bitString = (b: Buffer): Buffer => tlv(TAG.BIT_STRING, Buffer.from([0]), b);
export const bool = (v: boolean): Buffer => tlv(TAG.BOOLEAN, Buffer.from([v ? 0xff : 0]));
export const nul = (): Buffer => Buffer.from([TAG.NULL, 0]);
export const utf8 = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
/** A context-specific tag: `[n]`, constructed (explicit, or implicit over a constructed type) or primitive. */
export const ctx = (n: number, constructed: boolean, ...content: readonly Buffer[]): Buffer => tlv(0x80 | (constructed ? 0x20 : 0) | n, ...content);

/** A DER INTEGER from its unsigned big-endian magnitude (minimal: leading zero bytes dropped, one added before a set top bit). */
export function uint(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return m.length > 0 && (m[0]! & 0x80) !== 0 ? tlv(TAG.INTEGER, Buffer.from([0]), m) : tlv(TAG.INTEGER, m.length === 0 ? Buffer.from([0]) : m);
}

export const smallInt = (n: number): Buffer => uint(Buffer.from([n]));

const oidCache = new Map<string, Buffer>();

/** A DER OBJECT IDENTIFIER from its dotted form (cached: the issuance path writes the same few over and over). */
export function oid(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  const der = tlv(TAG.OID, Buffer.from(out));
  oidCache.set(dotted, der);
  return der;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** RFC 5280 time: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, always Z. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return y < 2050 ? tlv(TAG.UTC_TIME, Buffer.from(`${two(y % 100)}${rest}`, 'ascii')) : tlv(TAG.GENERALIZED_TIME, Buffer.from(`${y}${rest}`, 'ascii'));
}

// ---- reader ----

/** One parsed TLV; `content` and `der` are views into the input. */
export interface DerNode {
  readonly tag: number;
  readonly constructed: boolean;
  /** The whole TLV, header included (what a signature covers). */
  readonly der: Buffer;
  readonly content: Buffer;
}

function readOne(buf: Buffer, offset: number): DerNode {
  if (offset + 2 > buf.length) throw new DerError('truncated DER header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used here');
  let len = buf[offset + 1]!;
  let header = 2;
  if (len === 0x80) throw new DerError('indefinite length is not DER');
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4) throw new DerError('length too large');
    if (offset + 2 + n > buf.length) throw new DerError('truncated DER length');
    if (buf[offset + 2] === 0) throw new DerError('non-minimal DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    if (len < 0x80) throw new DerError('non-minimal DER length');
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new DerError('DER value runs past its container');
  return { tag, constructed: (tag & 0x20) !== 0, der: buf.subarray(offset, end), content: buf.subarray(offset + header, end) };
}

/** Exactly one TLV filling `buf` (trailing bytes refused). */
export function readDer(buf: Buffer): DerNode {
  const node = readOne(buf, 0);
  if (node.der.length !== buf.length) throw new DerError('trailing bytes after the DER value');
  return node;
}

/** The TLVs inside a constructed node, in order. */
export function children(node: DerNode): DerNode[] {
  if (!node.constructed) throw new DerError(`tag 0x${node.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  for (let off = 0; off < node.content.length; ) {
    const child = readOne(node.content, off);
    out.push(child);
    off += child.der.length;
  }
  return out;
}

/** `node` must carry `tag`; returns it for chaining. */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node) throw new DerError(`${what} is missing`);
  if (node.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${node.tag.toString(16)}`);
  return node;
}

export function readOid(node: DerNode): string {
  const c = expectTag(node, TAG.OID, 'object identifier').content;
  if (c.length === 0) throw new DerError('empty object identifier');
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    const b = c[i]!;
    if (v === 0 && b === 0x80) throw new DerError('non-minimal object identifier arc');
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new DerError('object identifier arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    } else if (i === c.length - 1) throw new DerError('truncated object identifier');
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

export function readBoolean(node: DerNode): boolean {
  const c = expectTag(node, TAG.BOOLEAN, 'boolean').content;
  if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) throw new DerError('a DER boolean is one byte, 0x00 or 0xff');
  return c[0] === 0xff;
}

/** A small non-negative INTEGER (versions). */
export function readSmallInt(node: DerNode): number {
  const c = expectTag(node, TAG.INTEGER, 'integer').content;
  if (c.length === 0 || c.length > 4 || (c[0]! & 0x80) !== 0) throw new DerError('expected a small non-negative integer');
  if (c.length > 1 && c[0] === 0 && (c[1]! & 0x80) === 0) throw new DerError('non-minimal integer');
  return c.reduce((a, b) => a * 256 + b, 0);
}

/** The bytes of a BIT STRING with no unused bits (keys and signatures). */
export function readBitStringBytes(node: DerNode): Buffer {
  const c = expectTag(node, TAG.BIT_STRING, 'bit string').content;
  if (c.length === 0 || c[0] !== 0) throw new DerError('bit string with unused bits');
  return c.subarray(1);
}
