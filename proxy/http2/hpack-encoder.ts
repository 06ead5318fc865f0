// HPACK header block encoder (RFC 7541): static-table matches, a dynamic table for repeated fields, Huffman for what it keeps.
import { lineSafe } from '../http/field-chars.ts';
import { huffmanEncode, huffmanLength } from './huffman.ts';
import { STATIC_TABLE } from './hpack-tables.ts';

/**
 * Static entries by name: the name's first index and the index of each value the table has for it. Looked up by name
 * then value, so no "name\0value" key string is built per field (those strings were a good part of the proxy's garbage).
 */
interface StaticName {
  index: number;
  readonly values: Map<string, number>;
}
const STATIC = new Map<string, StaticName>();
for (let i = STATIC_TABLE.length - 1; i >= 1; i--) {
  const [n, v] = STATIC_TABLE[i]!;
  let e = STATIC.get(n);
  if (e === undefined) STATIC.set(n, (e = { index: i, values: new Map() }));
  e.index = i;
  e.values.set(v, i);
}

/** The dynamic table's entries of one name: insertion number of the newest, and of each value still in the table. */
interface DynamicName {
  latest: number;
  readonly values: Map<string, number>;
}

/** Fields never put in a table (RFC 7541 7.1: credentials), and ones whose values change with every message. */
const NEVER_INDEX = new Set(['authorization', 'proxy-authorization', 'set-cookie']);
const NOT_INDEXED = new Set([':path', 'content-length', 'x-request-id', 'date', 'etag', 'last-modified', 'grpc-timeout', 'traceparent']);
/** Values longer than this are sent as literals without indexing: they rarely repeat and would evict ones that do. */
const MAX_INDEXED_VALUE = 256;

/**
 * One connection's encoding context. Header blocks must reach the peer in the order they were encoded; the table size
 * follows the peer's SETTINGS_HEADER_TABLE_SIZE (`setMaxTableSize`, announced at the start of the next block).
 */
export class HpackEncoder {
  #maxSize = 4096;
  #pendingSizeUpdate = -1;
  #size = 0;
  /** Insertion numbers of the live entries by name and value; index = inserted - number + 62. */
  readonly #byName = new Map<string, DynamicName>();
  /** Live entries oldest first, as names, values and sizes; `#head` past the evicted ones. */
  #names: string[] = [];
  #values: string[] = [];
  #sizes: number[] = [];
  #head = 0;
  #inserted = 0;
  #buf = Buffer.allocUnsafe(4096);
  #pos = 0;
  /** A block was abandoned: the next one starts by emptying the peer's table (a size update to 0), as ours was. */
  #clearPending = false;

  /** The peer's limit changed: the next block starts with a size update (and the table shrinks now). */
  setMaxTableSize(size: number): void {
    const s = Math.min(size, 4096);
    if (s === this.#maxSize && this.#pendingSizeUpdate < 0) return;
    this.#maxSize = s;
    this.#pendingSizeUpdate = this.#pendingSizeUpdate < 0 ? s : Math.min(this.#pendingSizeUpdate, s);
    this.#evict(0);
  }

  /** Starts a block. */
  begin(): void {
    this.#pos = 0;
    if (this.#clearPending) {
      this.#clearPending = false;
      this.#int(0, 5, 0x20);
      if (this.#pendingSizeUpdate < 0) this.#pendingSizeUpdate = this.#maxSize;
    }
    if (this.#pendingSizeUpdate >= 0) {
      this.#int(this.#pendingSizeUpdate, 5, 0x20);
      this.#pendingSizeUpdate = -1;
    }
  }

  /**
   * Adds one field (lower-case name without CR, LF or NUL; latin1 value). False when the value holds CR, LF or NUL
   * (RFC 9113 8.2.1): nothing of it is written, and the block must not be sent: `abandon()` it. A value is checked only
   * when it is written out: one found in a table was checked on its way in (the static table's need none).
   */
  field(name: string, value: string): boolean {
    const st = STATIC.get(name);
    if (st !== undefined) {
      const i = st.values.get(value);
      if (i !== undefined) {
        this.#int(i, 7, 0x80);
        return true;
      }
    }
    const dyn = this.#byName.get(name);
    if (dyn !== undefined) {
      const n = dyn.values.get(value);
      if (n !== undefined) {
        this.#int(this.#inserted - n + 62, 7, 0x80);
        return true;
      }
    }
    if (!lineSafe(value)) return false;
    const nameIdx = st !== undefined ? st.index : dyn !== undefined ? this.#inserted - dyn.latest + 62 : 0;
    if (NEVER_INDEX.has(name)) {
      this.#literal(nameIdx, name, 4, 0x10, false);
    } else if (NOT_INDEXED.has(name) || value.length > MAX_INDEXED_VALUE || name.length + value.length + 32 > this.#maxSize) {
      this.#literal(nameIdx, name, 4, 0x00, false);
    } else {
      this.#literal(nameIdx, name, 6, 0x40, true);
      this.#add(name, value, name.length + value.length + 32);
      // Sent once, then referenced by index for the connection's life: worth its Huffman pass.
      this.#string(value, true);
      return true;
    }
    // A field sent whole in every message (a request id, a length, a path): raw. Huffman would save a quarter of its
    // bytes on a link where bytes are cheap, for two passes over it per message (~5 % of the proxy's CPU, measured).
    this.#string(value, false);
    return true;
  }

  /**
   * Drops the block being built, which holds a field that cannot be sent. Entries it added to our table never reach the
   * peer, so the table is emptied, and the next block starts by emptying the peer's too (RFC 7541 4.2: a size update to
   * 0, then back to the limit): both sides agree again, at the price of re-sending what the table held, once.
   */
  abandon(): void {
    this.#pos = 0;
    this.#byName.clear();
    this.#names = [];
    this.#values = [];
    this.#sizes = [];
    this.#head = 0;
    this.#size = 0;
    this.#clearPending = true;
  }

  /** The block so far is `buffer[0, length)`: a reused buffer, to be copied out before the next `begin`. */
  get buffer(): Buffer {
    return this.#buf;
  }

  get length(): number {
    return this.#pos;
  }

  /** The block so far (a view into a reused buffer: copy or write it out before the next `begin`). */
  end(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  /** Convenience: one whole block, copied (tests). Throws on a value that cannot be sent. */
  encode(fields: readonly (readonly [string, string])[]): Buffer {
    this.begin();
    for (const [n, v] of fields) {
      if (!this.field(n, v)) {
        this.abandon();
        throw new Error(`field ${n} cannot be sent (CR, LF or NUL)`);
      }
    }
    return Buffer.from(this.end());
  }

  #literal(nameIdx: number, name: string, bits: number, pattern: number, huffman: boolean): void {
    this.#int(nameIdx, bits, pattern);
    if (nameIdx === 0) this.#string(name, huffman);
  }

  #add(name: string, value: string, size: number): void {
    this.#evict(size);
    const number = ++this.#inserted;
    this.#names.push(name);
    this.#values.push(value);
    this.#sizes.push(size);
    let dyn = this.#byName.get(name);
    if (dyn === undefined) this.#byName.set(name, (dyn = { latest: number, values: new Map() }));
    dyn.latest = number;
    dyn.values.set(value, number);
    this.#size += size;
  }

  #evict(room: number): void {
    const names = this.#names;
    while (this.#size + room > this.#maxSize && this.#head < names.length) {
      const h = this.#head++;
      const number = this.#inserted - (names.length - 1 - h);
      this.#size -= this.#sizes[h]!;
      const name = names[h]!;
      const dyn = this.#byName.get(name)!;
      const value = this.#values[h]!;
      if (dyn.values.get(value) === number) dyn.values.delete(value);
      // Entries leave oldest first: when the newest of a name goes, so have all the others.
      if (dyn.latest === number) this.#byName.delete(name);
    }
    if (this.#head > 64 && this.#head * 2 > names.length) {
      names.splice(0, this.#head);
      this.#values.splice(0, this.#head);
      this.#sizes.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  #int(v: number, bits: number, pattern: number): void {
    this.#room(6);
    const buf = this.#buf;
    const max = (1 << bits) - 1;
    if (v < max) {
      buf[this.#pos++] = pattern | v;
      return;
    }
    buf[this.#pos++] = pattern | max;
    v -= max;
    while (v >= 0x80) {
      buf[this.#pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.#pos++] = v;
  }

  /** A string literal: Huffman-coded when `huffman` and that makes it shorter, else raw. */
  #string(s: string, huffman: boolean): void {
    const h = huffman ? huffmanLength(s) : s.length;
    if (h < s.length) {
      this.#int(h, 7, 0x80);
      this.#room(h);
      this.#pos = huffmanEncode(s, this.#buf, this.#pos);
    } else {
      this.#int(s.length, 7, 0);
      this.#room(s.length);
      this.#pos += this.#buf.write(s, this.#pos, 'latin1');
    }
  }
}
