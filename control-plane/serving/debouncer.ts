// Coalesces bursts of changes: fires `quietMs` after the last change, and at most `maxDelayMs` after the first one.

export interface DebouncerOptions {
  readonly quietMs: number;
  readonly maxDelayMs: number;
  readonly now?: () => number;
}

/** Collects keys (proxy ids, or ALL) between flushes; a storm of changes becomes one flush with their union. */
export class Debouncer<K> {
  #opts: Required<DebouncerOptions>;
  #onFlush: (keys: ReadonlySet<K> | 'all') => void;
  #pending: Set<K> | 'all' | null = null;
  #firstAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: DebouncerOptions, onFlush: (keys: ReadonlySet<K> | 'all') => void) {
    this.#opts = { now: Date.now, ...opts };
    this.#onFlush = onFlush;
  }

  /** Records a change affecting `keys` ('all': every proxy). Never blocks; the flush runs on a timer. */
  add(keys: Iterable<K> | 'all'): void {
    const now = this.#opts.now();
    if (this.#pending === null) {
      this.#pending = new Set();
      this.#firstAt = now;
    }
    if (keys === 'all') this.#pending = 'all';
    else if (this.#pending !== 'all') for (const k of keys) this.#pending.add(k);
    clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(this.#opts.quietMs, this.#firstAt + this.#opts.maxDelayMs - now));
    this.#timer = setTimeout(() => this.flush(), wait);
  }

  /** Fires now with whatever is pending (used on shutdown and by tests of the callers). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const pending = this.#pending;
    this.#pending = null;
    if (pending !== null) this.#onFlush(pending);
  }

  get pending(): boolean {
    return this.#pending !== null;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#pending = null;
  }
}
