// One local rate limit for the whole proxy, held by the worker supervisor: workers lease its tokens in small batches.
//
// The invariant that makes the limit hold: the tokens in the bucket plus every token a worker may still hold never exceed
// the burst. A worker's holding is known exactly when it asks or gives back (it reports what it has left); in between the
// supervisor counts what it last granted, which is at least what is left, so the bucket refills less, never more. Over
// any window the proxy admits at most burst + rate x window, as one process with one bucket would.

/** What one acquire answers. */
export interface Grant {
  /** Tokens granted now (the worker holds them until used, given back, or it dies). */
  readonly granted: number;
  /** When fewer than `need` were granted: ms until the next token (the worker refuses meanwhile without asking); else 0. */
  readonly waitMs: number;
}

export class SharedTokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;
  /** What each worker (by cluster id) may still hold. */
  readonly #held = new Map<number, number>();
  #heldTotal = 0;

  constructor(requestsPerSecond: number, burst: number, now: number) {
    this.#perMs = requestsPerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Tokens that every worker may still hold (for tests and /config_dump-like views). */
  get leased(): number {
    return this.#heldTotal;
  }

  #refill(now: number): void {
    if (now <= this.#last) return;
    // Never above what the leases leave room for; never lowered by a refill either.
    const cap = this.#burst - this.#heldTotal;
    this.#tokens = Math.max(this.#tokens, Math.min(cap, this.#tokens + (now - this.#last) * this.#perMs));
    this.#last = now;
  }

  #setHeld(worker: number, n: number): void {
    const was = this.#held.get(worker) ?? 0;
    if (n === 0) this.#held.delete(worker);
    else this.#held.set(worker, n);
    this.#heldTotal += n - was;
  }

  /**
   * `worker` has `held` tokens left and `need` requests waiting; it wants `need` more, plus enough to hold `lease`
   * afterwards (so its next requests need not ask). The need is served first; the rest only if the bucket has it.
   */
  acquire(worker: number, need: number, held: number, lease: number, now: number): Grant {
    this.#refill(now);
    // A worker cannot hold more than it was given (a bad report must not lift the limit).
    const h = Math.min(Math.max(0, Math.floor(held)), this.#held.get(worker) ?? 0);
    this.#setHeld(worker, h);
    const wanted = Math.max(0, need + lease - h);
    const granted = Math.min(Math.floor(this.#tokens), wanted);
    this.#tokens -= granted;
    this.#setHeld(worker, h + granted);
    if (granted >= need) return { granted, waitMs: 0 };
    return { granted, waitMs: Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs)) };
  }

  /** `worker` gives back what it holds (its lease expired unused); it holds nothing afterwards. */
  release(worker: number, held: number, now: number): void {
    this.#refill(now);
    const h = Math.min(Math.max(0, Math.floor(held)), this.#held.get(worker) ?? 0);
    this.#setHeld(worker, 0);
    this.#tokens += h;
  }

  /**
   * `worker` died: what it held is not given back (it may have used it), but no longer counts against the bucket, which
   * refills at the configured rate from here.
   */
  forget(worker: number, now: number): void {
    this.#refill(now);
    this.#setHeld(worker, 0);
  }

  /** Full and leased to no one: the same as a new bucket, so it can be dropped. */
  idle(now: number): boolean {
    this.#refill(now);
    return this.#heldTotal === 0 && this.#tokens >= this.#burst;
  }
}
