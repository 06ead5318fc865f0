// HPACK header block decoder (RFC 7541): static and dynamic tables, integer and string literals, Huffman, size updates.
import { huffmanDecode } from './huffman.ts';
import { STATIC_TABLE } from './hpack-tables.ts';

/** Why a block could not be decoded: every one is a connection error of type COMPRESSION_ERROR (RFC 7540 4.3). */
export class HpackError extends Error {
  readonly code = 'SKEIN_ERR_HPACK';
}

/**
 * Receives each decoded field, in order. `checked`: this very field comes from the dynamic table, and the sink returned
 * true for it when it entered the table (a sink returns true for a field that passed the checks that depend on the field
 * alone, so that it need not check it again each time the peer refers to it by index).
 */
export type FieldSink = (name: string, value: string, checked: boolean) => unknown;

/**
 * One connection's decoding context. `decode` runs over a whole header block (HEADERS + CONTINUATIONs joined) and keeps
 * the dynamic table in step even when the caller discards the fields (a stream refused for its header list size).
 */
export class HpackDecoder {
  /** The size limit we advertised (SETTINGS_HEADER_TABLE_SIZE); a size update may not exceed it. */
  #maxAllowed: number;
  #maxSize: number;
  #size = 0;
  /** The dynamic table, oldest first: names and values in parallel, `#start` past evicted entries. */
  #names: string[] = [];
  #values: string[] = [];
  /** Per entry: the sink returned true for it (FieldSink). */
  #checked: boolean[] = [];
  #start = 0;
  /** The read position in the block being decoded (integers and strings are read at it, without a tuple per read). */
  #p = 0;
  /** Where the block being decoded ends: nothing at or past it is read (the buffer may hold the next frame there). */
  #end = 0;

  constructor(maxTableSize = 4096) {
    this.#maxAllowed = maxTableSize;
    this.#maxSize = maxTableSize;
  }

  get tableSize(): number {
    return this.#size;
  }

  get tableLength(): number {
    return this.#names.length - this.#start;
  }

  /** Decodes `block[start, end)`, calling `sink` per field. Throws HpackError on any malformed input. */
  decode(block: Uint8Array, sink: FieldSink, start = 0, end = block.length): void {
    this.#p = start;
    this.#end = end;
    let fieldSeen = false;
    while (this.#p < end) {
      const b = block[this.#p]!;
      if (b >= 0x80) {
        // Indexed field.
        const idx = this.#int(block, 7);
        if (idx === 0) throw new HpackError('index 0');
        this.#emitIndexed(idx, sink);
        fieldSeen = true;
      } else if (b >= 0x40 || b < 0x20) {
        // Literal with incremental indexing (01), without indexing (0000) or never indexed (0001).
        const indexing = b >= 0x40;
        const idx = this.#int(block, indexing ? 6 : 4);
        const name = idx === 0 ? this.#string(block) : this.#name(idx);
        const value = this.#string(block);
        const checked = sink(name, value, false) === true;
        if (indexing) this.#add(name, value, checked);
        fieldSeen = true;
      } else {
        // Dynamic table size update (001): only at the start of a block (RFC 7541 4.2).
        if (fieldSeen) throw new HpackError('table size update after a field');
        const size = this.#int(block, 5);
        if (size > this.#maxAllowed) throw new HpackError('table size update above the advertised limit');
        this.#maxSize = size;
        this.#evict(0);
      }
    }
  }

  /** An HPACK integer with an N-bit prefix at the cursor, which moves past it. Values past 2^28 are refused. */
  #int(buf: Uint8Array, bits: number): number {
    let p = this.#p;
    const mask = (1 << bits) - 1;
    let v = buf[p]! & mask;
    p++;
    if (v < mask) {
      this.#p = p;
      return v;
    }
    let shift = 0;
    for (;;) {
      if (p >= this.#end) throw new HpackError('truncated integer');
      const b = buf[p++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      shift += 7;
      if (shift > 21) throw new HpackError('integer too large');
    }
    this.#p = p;
    return v;
  }

  /** A string literal at the cursor (Huffman or raw, as latin1); the cursor moves past it. */
  #string(buf: Uint8Array): string {
    const p = this.#p;
    if (p >= this.#end) throw new HpackError('truncated string');
    const huffman = buf[p]! >= 0x80;
    const len = this.#int(buf, 7);
    const q = this.#p;
    const end = q + len;
    if (end > this.#end) throw new HpackError('string past the end of the block');
    this.#p = end;
    if (!huffman) return Buffer.prototype.toString.call(buf, 'latin1', q, end) as string;
    const s = huffmanDecode(buf, q, end);
    if (s === null) throw new HpackError('invalid Huffman encoding');
    return s;
  }

  #emitIndexed(idx: number, sink: FieldSink): void {
    if (idx <= 61) {
      const e = STATIC_TABLE[idx]!;
      sink(e[0], e[1], false);
      return;
    }
    const i = this.#names.length - (idx - 61);
    if (i < this.#start) throw new HpackError(`index ${idx} beyond both tables`);
    sink(this.#names[i]!, this.#values[i]!, this.#checked[i]!);
  }

  #name(idx: number): string {
    if (idx <= 61) return STATIC_TABLE[idx]![0];
    const i = this.#names.length - (idx - 61);
    if (i < this.#start) throw new HpackError(`index ${idx} beyond both tables`);
    return this.#names[i]!;
  }

  #add(name: string, value: string, checked: boolean): void {
    const size = name.length + value.length + 32;
    if (size > this.#maxSize) {
      // An entry larger than the table empties it (RFC 7541 4.4).
      this.#names.length = this.#values.length = this.#checked.length = this.#start = this.#size = 0;
      return;
    }
    this.#evict(size);
    this.#names.push(name);
    this.#values.push(value);
    this.#checked.push(checked);
    this.#size += size;
  }

  /** Evicts oldest entries until `room` more bytes fit. */
  #evict(room: number): void {
    const names = this.#names;
    while (this.#size + room > this.#maxSize && this.#start < names.length) {
      this.#size -= names[this.#start]!.length + this.#values[this.#start]!.length + 32;
      this.#start++;
    }
    if (this.#start > 64 && this.#start * 2 > names.length) {
      names.splice(0, this.#start);
      this.#values.splice(0, this.#start);
      this.#checked.splice(0, this.#start);
      this.#start = 0;
    }
  }
}
