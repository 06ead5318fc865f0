// Gives memory back once serving goes quiet after a burst of pushes (proxies connecting, a change to every proxy).
//
// A burst leaves V8 holding the pages it emptied: a regular GC frees the objects but not the footprint, and V8's own memory
// reducer seldom gets to it on a busy node. Measured with 1000 Services and 300 proxies just synced: 185 MB RSS after
// regular GCs, 119 MB after one memory-reducing GC (docs/control-plane.md). So a short quiet period after a burst asks for
// one such GC, at most once per `minIntervalMs`: ~20-50 ms of main-thread time, only after pushes, never during one.

export interface IdleReclaimerOptions {
  /** The memory-reducing GC (the control plane runs with --expose-gc: gc({ flavor: 'last-resort' })). */
  readonly reclaim: () => void;
  /** Quiet this long after the last push before reclaiming. */
  readonly quietMs?: number;
  /** At most one reclaim per this long. */
  readonly minIntervalMs?: number;
  readonly now?: () => number;
}

export class IdleReclaimer {
  readonly #reclaim: () => void;
  readonly #quietMs: number;
  readonly #minIntervalMs: number;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastAt = -Infinity;
  #pending = false;
  reclaims = 0;

  constructor(opts: IdleReclaimerOptions) {
    this.#reclaim = opts.reclaim;
    this.#quietMs = opts.quietMs ?? 2000;
    this.#minIntervalMs = opts.minIntervalMs ?? 30_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Work happened (a push was written): reclaim once it has been quiet for a while. */
  activity(): void {
    this.#pending = true;
    this.#arm(this.#quietMs);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#pending = false;
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fire(), ms);
    this.#timer.unref?.();
  }

  #fire(): void {
    if (!this.#pending) return;
    const wait = this.#lastAt + this.#minIntervalMs - this.#now();
    if (wait > 0) {
      this.#arm(wait);
      return;
    }
    this.#pending = false;
    this.#lastAt = this.#now();
    this.reclaims++;
    try {
      this.#reclaim();
    } catch {
      // Giving memory back is an optimisation: it never breaks serving.
    }
  }
}

/** The memory-reducing GC when the process runs with --expose-gc (bin/process-settings.mjs gives the control plane it), else undefined. */
export function exposedGcReclaim(): (() => void) | undefined {
  const gc = (globalThis as { gc?: (o: { type: string; execution: string; flavor: string }) => unknown }).gc;
  if (typeof gc !== 'function') return undefined;
  // Synchronous: the asynchronous flavour gave nothing back in the bench (it runs as a regular task later).
  return () => void gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
