// The per-request decision of fault injection, from config precompiled once: delay how long, and abort or not.
import type { FaultInjectionConfig } from '../../api/config/policy-config.ts';
import { ERRORS, ProxyError, type ProxyErrorSpec } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';

export class FaultDecision {
  readonly #header: string | null;
  readonly #delayMs: number;
  readonly #delayPercent: number;
  readonly #abortPercent: number;
  /** The abort's answer: the catalogue's fault-abort cause with the configured statuses. */
  readonly abortError: ProxyError | null;

  constructor(config: FaultInjectionConfig) {
    this.#header = config.header;
    this.#delayMs = config.delay?.fixedDelayMs ?? 0;
    this.#delayPercent = config.delay?.percent ?? 0;
    this.#abortPercent = config.abort?.percent ?? 0;
    const a = config.abort;
    const spec: ProxyErrorSpec | null = a ? { ...ERRORS.faultAbort, status: a.httpStatus, grpcStatus: a.grpcStatus } : null;
    this.abortError = spec ? new ProxyError(spec) : null;
  }

  /** Whether this request is subject to the fault at all (the header condition). */
  applies(headers: HeaderBag): boolean {
    return this.#header === null || headers[this.#header] !== undefined;
  }

  /** Delay for this request in ms (0: none). Draws one random number when a delay is configured. */
  delayMs(random: () => number): number {
    return this.#delayMs > 0 && random() * 100 < this.#delayPercent ? this.#delayMs : 0;
  }

  /** Whether to abort this request. Draws one random number when an abort is configured. */
  abort(random: () => number): boolean {
    return this.abortError !== null && random() * 100 < this.#abortPercent;
  }
}
