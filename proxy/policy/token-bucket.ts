// A token bucket refilled continuously from an injected clock: the arithmetic of the local rate limit, with no timer.
import type { LocalRateLimitConfig } from '../../api/config/policy-config.ts';

export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  constructor(config: LocalRateLimitConfig, now: number) {
    this.#perMs = config.requestsPerSecond / 1000;
    this.#burst = config.burst;
    this.#tokens = config.burst;
    this.#last = now;
  }

  /** Takes a token: 0 when one was there, else how many ms until the next one arrives. */
  take(now: number): number {
    if (now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
      this.#last = now;
    }
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs));
  }
}
