// HPACK's Huffman code (RFC 7541 5.2, Appendix B): a 4-bit-at-a-time decoding automaton built once, and the encoder.
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './hpack-tables.ts';

/**
 * The decoder walks the code tree a nibble at a time. States are the tree's inner nodes (0 = root); for each state and
 * nibble the tables give the next state, and the symbol completed on the way (at most one: no code is shorter than 5 bits).
 */
const NEXT = new Uint16Array(256 * 16);
const SYMBOL = new Int16Array(256 * 16); // -1: none, -2: the nibble runs into EOS or off the tree (a decoding error)
/** A state where the input may end: the bits since the last symbol are at most 7 ones (a prefix of EOS), or none. */
const ACCEPTS = new Uint8Array(256);

function build(): void {
  // The tree as child arrays: inner nodes 0..n, leaves encoded as -(symbol + 1).
  const left: number[] = [0];
  const right: number[] = [0];
  let nodes = 1;
  const depth: number[] = [0];
  const ones: boolean[] = [true];
  const insert = (code: number, len: number, sym: number): void => {
    let n = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      const kids = bit === 0 ? left : right;
      if (i === 0) {
        kids[n] = -(sym + 1);
        return;
      }
      if (kids[n] === 0 || kids[n] === undefined) {
        kids[n] = nodes;
        left[nodes] = 0;
        right[nodes] = 0;
        depth[nodes] = depth[n]! + 1;
        ones[nodes] = ones[n]! && bit === 1;
        nodes++;
      }
      n = kids[n]!;
    }
  };
  for (let s = 0; s < 256; s++) insert(HUFFMAN_CODES[s]!, HUFFMAN_LENGTHS[s]!, s);
  insert(0x3fffffff, 30, 256);
  for (let st = 0; st < nodes; st++) {
    ACCEPTS[st] = st === 0 || (ones[st]! && depth[st]! <= 7) ? 1 : 0;
    for (let nib = 0; nib < 16; nib++) {
      let n = st;
      let sym = -1;
      for (let i = 3; i >= 0; i--) {
        const next = ((nib >>> i) & 1) === 0 ? left[n]! : right[n]!;
        if (next < 0) {
          const s = -next - 1;
          if (s === 256 || sym !== -1) {
            sym = -2;
            break;
          }
          sym = s;
          n = 0;
        } else if (next === 0) {
          sym = -2;
          break;
        } else n = next;
      }
      NEXT[st * 16 + nib] = sym === -2 ? 0 : n;
      SYMBOL[st * 16 + nib] = sym;
    }
  }
}
build();

let scratch = Buffer.allocUnsafe(4096);

/** Decodes `src[start, end)`; returns the string (latin1: header bytes as they came), or null for an invalid encoding. */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string | null {
  // Every 5 bits yield at most one byte.
  const max = (((end - start) * 8) / 5) | 0;
  if (scratch.length < max) scratch = Buffer.allocUnsafe(Math.max(max, scratch.length * 2));
  const out = scratch;
  let o = 0;
  let st = 0;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    let k = st * 16 + (b >>> 4);
    let sym = SYMBOL[k]!;
    if (sym === -2) return null;
    if (sym >= 0) out[o++] = sym;
    st = NEXT[k]!;
    k = st * 16 + (b & 15);
    sym = SYMBOL[k]!;
    if (sym === -2) return null;
    if (sym >= 0) out[o++] = sym;
    st = NEXT[k]!;
  }
  if (ACCEPTS[st] === 0) return null;
  return out.toString('latin1', 0, o);
}

/** The Huffman-encoded length of a latin1 string, in bytes. */
export function huffmanLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += HUFFMAN_LENGTHS[s.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/** Writes the Huffman encoding of `s` (latin1) at `off`; returns the offset after it. `huffmanLength(s)` bytes must fit. */
export function huffmanEncode(s: string, dst: Uint8Array, off: number): number {
  // Bits accumulate in a 64-bit-safe pair: `acc` holds fewer than 8 pending bits plus at most 30 new ones (< 2^38 fits a double).
  let acc = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    const len = HUFFMAN_LENGTHS[c]!;
    acc = acc * 2 ** len + HUFFMAN_CODES[c]!;
    n += len;
    while (n >= 8) {
      n -= 8;
      const div = 2 ** n;
      const byte = Math.floor(acc / div);
      dst[off++] = byte;
      acc -= byte * div;
    }
  }
  if (n > 0) dst[off++] = (acc << (8 - n)) | (0xff >>> n);
  return off;
}
