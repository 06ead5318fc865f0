// Per-cluster admission limits (connections, pending, in-flight requests, active retries), counted without timers on the fast path.
import type { CircuitBreakerConfig } from '../../api/config/policy-config.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';

/** A request waiting for a slot: resolved with null (admitted) or the error to answer. */
interface Waiter {
  resolve(e: ProxyError | null): void;
  timer: ReturnType<typeof setTimeout> | null;
  done: boolean;
}

// Precomputed at module load: the answers carry no per-request detail, so one object each serves every refusal.
const MAX_PENDING = new ProxyError(ERRORS.circuitMaxPending);
const PENDING_TIMEOUT = new ProxyError(ERRORS.pendingTimeout);
const MAX_CONNECTIONS = new ProxyError(ERRORS.circuitMaxConnections);

export class CircuitBreaker {
  readonly config: CircuitBreakerConfig;
  active = 0;
  activeRetries = 0;
  connections = 0;
  readonly #queue: Waiter[] = [];
  /** Refusals by cause, for metrics and tests. */
  readonly overflows = { pending: 0, pendingTimeout: 0, connections: 0, retries: 0 };

  constructor(config: CircuitBreakerConfig) {
    this.config = config;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Admits a request: null when admitted at once, an error when refused at once, or a promise when it must wait
   * (then resolved with null once admitted or the error after pendingTimeoutMs). An admitted request must `release()`.
   */
  enter(): ProxyError | null | Promise<ProxyError | null> {
    if (this.active < this.config.maxRequests) {
      this.active++;
      return null;
    }
    if (this.#queue.length >= this.config.maxPendingRequests) {
      this.overflows.pending++;
      return MAX_PENDING;
    }
    return new Promise((resolve) => {
      const w: Waiter = { resolve, timer: null, done: false };
      w.timer = setTimeout(() => this.#expire(w), this.config.pendingTimeoutMs);
      this.#queue.push(w);
    });
  }

  #expire(w: Waiter): void {
    if (w.done) return;
    w.done = true;
    const i = this.#queue.indexOf(w);
    if (i >= 0) this.#queue.splice(i, 1);
    this.overflows.pendingTimeout++;
    w.resolve(PENDING_TIMEOUT);
  }

  /** An admitted request finished: its slot goes to the oldest waiter, if any. */
  release(): void {
    const w = this.#queue.shift();
    if (w === undefined) {
      this.active--;
      return;
    }
    w.done = true;
    if (w.timer !== null) clearTimeout(w.timer);
    w.resolve(null);
  }

  /** A retry may start (then `retryDone()` when it ends); false: the retry is not made. */
  tryStartRetry(): boolean {
    if (this.activeRetries >= this.config.maxActiveRetries) {
      this.overflows.retries++;
      return false;
    }
    this.activeRetries++;
    return true;
  }

  retryDone(): void {
    this.activeRetries--;
  }

  /** For the connector: a new upstream connection may be opened (then `connectionClosed()`), or the error to answer. */
  openConnection(): ProxyError | null {
    if (this.connections >= this.config.maxConnections) {
      this.overflows.connections++;
      return MAX_CONNECTIONS;
    }
    this.connections++;
    return null;
  }

  connectionClosed(): void {
    this.connections--;
  }
}
