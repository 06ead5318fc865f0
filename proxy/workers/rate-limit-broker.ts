// The supervisor's side of the shared local rate limits: one SharedTokenBucket per (key, settings), leased to workers.
import { count, type LeaseAcquire, type LeaseGrant, type LeaseRelease } from './worker-messages.ts';
import { SharedTokenBucket } from './shared-token-bucket.ts';

/** The largest batch a worker keeps at hand: bounds what sits unused in one worker while another refuses. */
export const MAX_LEASE = 256;
/** More distinct buckets than this (a config that names that many routes, or a bug): the idle ones are dropped first. */
const MAX_BUCKETS = 10_000;

/**
 * How many tokens a worker keeps at hand: a quarter of the burst shared among the workers, 1 to MAX_LEASE (256). So at most a
 * quarter of the burst sits in other workers' hands while one worker refuses; a burst under 4 x workers makes every token
 * one round trip to the supervisor (correct, only slower).
 */
export function leaseSize(burst: number, workers: number): number {
  return Math.max(1, Math.min(MAX_LEASE, Math.floor(burst / (4 * Math.max(1, workers)))));
}

export class RateLimitBroker {
  readonly #buckets = new Map<string, SharedTokenBucket>();
  readonly #workers: number;
  readonly #now: () => number;

  /** `workers`: how many workers the proxy runs (the lease size depends on it). */
  constructor(workers: number, now: () => number) {
    this.#workers = workers;
    this.#now = now;
  }

  get size(): number {
    return this.#buckets.size;
  }

  #bucket(m: LeaseAcquire | LeaseRelease, create: boolean): { bucket: SharedTokenBucket; lease: number } | null {
    const rps = count(m.requestsPerSecond);
    const burst = count(m.burst);
    if (typeof m.bucket !== 'string' || rps === null || rps === 0 || burst === null || burst < 1) return null;
    const id = `${m.bucket}\u0000${rps}\u0000${burst}`;
    let b = this.#buckets.get(id);
    if (b === undefined) {
      if (!create) return null;
      if (this.#buckets.size >= MAX_BUCKETS) this.sweep();
      b = new SharedTokenBucket(rps, burst, this.#now());
      this.#buckets.set(id, b);
    }
    return { bucket: b, lease: leaseSize(burst, this.#workers) };
  }

  /** Answers worker `worker`'s acquire; null for a malformed one (not answered: the worker's own timeout handles it). */
  acquire(worker: number, m: LeaseAcquire): LeaseGrant | null {
    const b = this.#bucket(m, true);
    const need = count(m.need);
    const held = count(m.held);
    if (b === null || need === null || held === null) return null;
    const g = b.bucket.acquire(worker, Math.floor(need), held, b.lease, this.#now());
    return { type: 'skein:lease-grant', id: m.id, bucket: m.bucket, granted: g.granted, waitMs: g.waitMs, lease: b.lease };
  }

  release(worker: number, m: LeaseRelease): void {
    const held = count(m.held);
    if (held !== null) this.#bucket(m, false)?.bucket.release(worker, held, this.#now());
  }

  /** A worker died: nothing it held counts against any bucket any more. */
  workerExited(worker: number): void {
    const now = this.#now();
    for (const b of this.#buckets.values()) b.forget(worker, now);
  }

  /** Drops the buckets that are full and leased to no one (the same as new ones): old settings, removed routes. */
  sweep(): void {
    const now = this.#now();
    for (const [id, b] of this.#buckets) if (b.idle(now)) this.#buckets.delete(id);
  }
}
