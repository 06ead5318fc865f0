// Holds the bytes of an incomplete head across reads: amortized O(n) for many small reads (a head trickled one byte per
// packet must not cost a full copy per byte), within a capacity bound.
export class ByteAccumulator {
  #store: Buffer | null = null;
  readonly #cap: number;

  /** `cap`: the most this accumulator is ever asked to hold (larger requests still work, without spare room). */
  constructor(cap: number) {
    this.#cap = cap;
  }

  /** Returns `held` followed by `chunk` as one buffer. `held` must be the previous return value (or null, or any buffer). */
  append(held: Buffer | null, chunk: Buffer): Buffer {
    if (held === null || held.length === 0) return chunk;
    const need = held.length + chunk.length;
    const s = this.#store;
    // Appending in place is safe only to the buffer we returned last, whose bytes past `held` nobody else has seen.
    if (s !== null && held.buffer === s.buffer && held.byteOffset === s.byteOffset && need <= s.length) {
      chunk.copy(s, held.length);
      return s.subarray(0, need);
    }
    const store = Buffer.allocUnsafeSlow(Math.max(need, Math.min(need * 2, this.#cap)));
    held.copy(store, 0);
    chunk.copy(store, held.length);
    this.#store = store;
    return store.subarray(0, need);
  }

  /** Drops the spare capacity (the connection is idle or done). */
  release(): void {
    this.#store = null;
  }
}
