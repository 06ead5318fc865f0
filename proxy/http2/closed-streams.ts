// The streams a server connection closed most recently and how each closed: what a late frame on one of them means.

/**
 * A ring of the last `size` closed streams. Remembering is two array writes per stream (a Map with its oldest key deleted
 * cost an iterator per stream); looking up scans the ring, which only late frames do (after a reset or END_STREAM).
 */
export class ClosedStreams {
  readonly #ids: Int32Array;
  readonly #how: Uint8Array;
  #next = 0;

  constructor(size: number) {
    this.#ids = new Int32Array(size);
    this.#how = new Uint8Array(size);
  }

  /** Stream `id` closed as `how` (a small positive number). */
  remember(id: number, how: number): void {
    const i = this.#next;
    this.#ids[i] = id;
    this.#how[i] = how;
    this.#next = i + 1 === this.#ids.length ? 0 : i + 1;
  }

  /** How stream `id` closed, or undefined when it is not among the last ones remembered (newest first). */
  get(id: number): number | undefined {
    const ids = this.#ids;
    const n = ids.length;
    for (let k = 1; k <= n; k++) {
      const i = (this.#next - k + n) % n;
      if (ids[i] === id && this.#how[i] !== 0) return this.#how[i];
    }
    return undefined;
  }
}
