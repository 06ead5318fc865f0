// Linkerd's retry budget: over a sliding window, retries may add a share of the requests plus a minimum rate.
import type { RetryBudgetConfig } from '../../api/config/policy-config.ts';

/** The window is kept as this many slots, so old requests leave it in steps of ttl/SLOTS, with no per-request record. */
const SLOTS = 10;

export class RetryBudget {
  readonly #ratio: number;
  /** Retries the window allows beyond the ratio: minRetriesPerSecond x ttl. */
  readonly #reserve: number;
  readonly #slotMs: number;
  readonly #requests = new Float64Array(SLOTS);
  readonly #retries = new Float64Array(SLOTS);
  #requestSum = 0;
  #retrySum = 0;
  /** Index of the slot that `#slotStart` began. */
  #slot = 0;
  #slotStart: number;

  constructor(config: RetryBudgetConfig, now: number) {
    this.#ratio = config.retryRatio;
    this.#reserve = (config.minRetriesPerSecond * config.ttlMs) / 1000;
    this.#slotMs = config.ttlMs / SLOTS;
    this.#slotStart = now;
  }

  #advance(now: number): void {
    if (now - this.#slotStart < this.#slotMs) return;
    const steps = Math.min(SLOTS, Math.floor((now - this.#slotStart) / this.#slotMs));
    for (let k = 0; k < steps; k++) {
      this.#slot = (this.#slot + 1) % SLOTS;
      this.#requestSum -= this.#requests[this.#slot]!;
      this.#retrySum -= this.#retries[this.#slot]!;
      this.#requests[this.#slot] = 0;
      this.#retries[this.#slot] = 0;
    }
    this.#slotStart = steps === SLOTS ? now : this.#slotStart + steps * this.#slotMs;
  }

  /** A first try was made. */
  deposit(now: number): void {
    this.#advance(now);
    this.#requests[this.#slot]!++;
    this.#requestSum++;
  }

  /** Takes one retry from the budget, or answers false when the window has none left. */
  tryWithdraw(now: number): boolean {
    this.#advance(now);
    if (this.#retrySum + 1 > this.#reserve + this.#ratio * this.#requestSum) return false;
    this.#retries[this.#slot]!++;
    this.#retrySum++;
    return true;
  }

  /** Retries still allowed in the current window (for /config_dump and tests). */
  available(now: number): number {
    this.#advance(now);
    return Math.max(0, Math.floor(this.#reserve + this.#ratio * this.#requestSum - this.#retrySum));
  }
}
