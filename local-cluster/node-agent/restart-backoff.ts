// Capped exponential delay before restarting a crashed container (the kubelet's CrashLoopBackOff, with shorter local defaults).

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** A container that ran at least this long before exiting starts over from the initial delay. */
  readonly resetAfterMs: number;
}

// The kubelet uses 10 s doubling to 5 min; on a laptop cluster a quick retry is worth more than protecting a busy node.
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 30_000, resetAfterMs: 60_000 };

export class RestartBackoff {
  readonly #opts: BackoffOptions;
  #failures = 0;

  constructor(opts: BackoffOptions = DEFAULT_BACKOFF) {
    this.#opts = opts;
  }

  /** The delay before the next start, given how long the last run lasted. */
  nextDelay(ranForMs: number): number {
    if (ranForMs >= this.#opts.resetAfterMs) this.#failures = 0;
    const delay = Math.min(this.#opts.initialMs * 2 ** this.#failures, this.#opts.maxMs);
    this.#failures++;
    return delay;
  }

  /** Runs `fn` after the next delay; returns a cancel function (used when the pod is deleted during the wait). */
  schedule(ranForMs: number, fn: () => void): { delayMs: number; cancel: () => void } {
    const delayMs = this.nextDelay(ranForMs);
    const t = setTimeout(fn, delayMs);
    return { delayMs, cancel: () => clearTimeout(t) };
  }
}
