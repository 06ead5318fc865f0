// A worker's side of a shared local rate limit: tokens leased from the supervisor in small batches, so that most requests
// take one locally and only every few ask the supervisor (rate-limit-broker.ts), while the limit holds for the whole proxy.
import type { LocalRateLimitConfig } from '../../api/config/policy-config.ts';
import type { LeaseAcquire, LeaseGrant, LeaseRelease } from './worker-messages.ts';

/** A lease not used up this long after it was granted goes back to the supervisor (another worker may need it). */
export const LEASE_TTL_MS = 250;
/** The supervisor answers in well under a millisecond; past this its silence is a fault, and the waiting requests pass. */
export const ACQUIRE_TIMEOUT_MS = 1_000;

export interface LeaseTransport {
  send(m: LeaseAcquire | LeaseRelease): void;
  /** A clock in ms (performance.now()). */
  now(): number;
  /** The supervisor did not answer in time: the waiting requests were let through (counted and logged by the caller). */
  onTimeout(bucket: string, waiting: number): void;
}

interface Waiter {
  readonly resolve: (waitMs: number) => void;
}

export class LeasedBucket {
  readonly #ref: { readonly bucket: string; readonly requestsPerSecond: number; readonly burst: number };
  readonly #transport: LeaseTransport;
  readonly #nextId: () => number;
  /** Tokens leased and not used yet. */
  #held = 0;
  /** How many to keep at hand (the supervisor says; 0 until its first answer). */
  #lease = 0;
  /** The supervisor said it had none: refuse locally until then. */
  #emptyUntil = 0;
  #grantedAt = 0;
  /** The acquire in flight (at most one), and how many of the waiters it asked for. */
  #inFlight: { id: number; asked: number } | null = null;
  /**
   * One timer per bucket, pushed back by each ask (a timer made per ask was most of the layer's cost): when it fires, the
   * ask in flight (always the last one) has waited ACQUIRE_TIMEOUT_MS. Firing with none in flight does nothing.
   */
  #watchdog: NodeJS.Timeout | null = null;
  readonly #waiters: Waiter[] = [];
  #ttlTimer: NodeJS.Timeout | null = null;

  constructor(bucket: string, config: LocalRateLimitConfig, transport: LeaseTransport, nextId: () => number) {
    this.#ref = { bucket, requestsPerSecond: config.requestsPerSecond, burst: config.burst };
    this.#transport = transport;
    this.#nextId = nextId;
  }

  get held(): number {
    return this.#held;
  }

  /**
   * Takes a token at hand: 0 when there was one; a wait in ms when the supervisor said none are left (refused without
   * asking again); -1 when the supervisor must be asked (call acquire()).
   */
  take(now: number): number {
    if (this.#held >= 1) {
      this.#held--;
      // Top up ahead of need, so that the requests after this one find tokens at hand.
      if (this.#held <= this.#lease >> 1 && this.#lease > 1 && this.#inFlight === null) this.#ask(0);
      return 0;
    }
    if (now < this.#emptyUntil) return Math.max(1, Math.ceil(this.#emptyUntil - now));
    return -1;
  }

  /** Waits for the supervisor's answer: 0 when a token came, else the wait in ms (refused). */
  acquire(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.#waiters.push({ resolve });
      if (this.#inFlight === null) this.#ask(this.#waiters.length);
    });
  }

  #ask(need: number): void {
    const id = this.#nextId();
    this.#inFlight = { id, asked: need };
    if (this.#watchdog === null) {
      this.#watchdog = setTimeout(() => this.#check(), ACQUIRE_TIMEOUT_MS);
      this.#watchdog.unref();
    } else this.#watchdog.refresh();
    this.#transport.send({ type: 'skein:lease-acquire', id, ...this.#ref, need, held: this.#held });
  }

  /** The watchdog fired: the ask in flight is not going to be answered in time. */
  #check(): void {
    if (this.#inFlight === null) return;
    this.#inFlight = null;
    const waiting = this.#waiters.splice(0);
    this.#transport.onTimeout(this.#ref.bucket, waiting.length);
    for (const w of waiting) w.resolve(0);
  }

  /** The supervisor's answer (a late one, after a timeout, still adds its tokens: the supervisor counts them as ours). */
  granted(g: LeaseGrant): void {
    const now = this.#transport.now();
    this.#held += g.granted;
    this.#lease = g.lease;
    if (g.granted > 0) {
      this.#grantedAt = now;
      this.#armTtl();
    }
    const flight = this.#inFlight;
    if (flight === null || flight.id !== g.id) return;
    this.#inFlight = null;
    let served = 0;
    while (this.#waiters.length > 0 && this.#held >= 1) {
      this.#held--;
      served++;
      this.#waiters.shift()!.resolve(0);
    }
    if (this.#waiters.length === 0) return;
    if (served < flight.asked) {
      // The supervisor had fewer than were asked for: the bucket is empty for everyone until the next token.
      this.#emptyUntil = now + g.waitMs;
      for (const w of this.#waiters.splice(0)) w.resolve(Math.max(1, g.waitMs));
      return;
    }
    // Arrived after the ask went: they get their own.
    this.#ask(this.#waiters.length);
  }

  #armTtl(): void {
    if (this.#ttlTimer !== null) return;
    this.#ttlTimer = setTimeout(() => this.#expire(), LEASE_TTL_MS);
    this.#ttlTimer.unref();
  }

  #expire(): void {
    this.#ttlTimer = null;
    if (this.#held < 1) return;
    const age = this.#transport.now() - this.#grantedAt;
    if (this.#inFlight !== null || age < LEASE_TTL_MS) {
      this.#ttlTimer = setTimeout(() => this.#expire(), Math.max(1, LEASE_TTL_MS - age));
      this.#ttlTimer.unref();
      return;
    }
    this.#transport.send({ type: 'skein:lease-release', ...this.#ref, held: this.#held });
    this.#held = 0;
  }
}

/** A worker's leased buckets by key and settings: the same key with the same settings is the same bucket across config versions. */
export class LeaseClient {
  readonly #transport: LeaseTransport;
  readonly #buckets = new Map<string, LeasedBucket>();
  #ids = 0;

  constructor(transport: LeaseTransport) {
    this.#transport = transport;
  }

  bucket(key: string, config: LocalRateLimitConfig): LeasedBucket {
    const id = `${key}\u0000${config.requestsPerSecond}\u0000${config.burst}`;
    let b = this.#buckets.get(id);
    if (b === undefined) {
      // The key sent is the id itself: the supervisor's bucket is per key and settings, and grants come back by it.
      b = new LeasedBucket(id, config, this.#transport, () => ++this.#ids);
      this.#buckets.set(id, b);
    }
    return b;
  }

  granted(g: LeaseGrant): void {
    this.#buckets.get(g.bucket)?.granted(g);
  }
}
