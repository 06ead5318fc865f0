// Live state of one upstream endpoint shared by balancers and pools: in-flight requests and peak-EWMA latency.
import type { EndpointConfig } from '../../api/config/proxy-config.ts';

/** Latency assumed for an endpoint with no observations yet (as linkerd2-proxy does). */
const DEFAULT_RTT_MS = 30;
/** Decay time constant of the moving average. */
const DECAY_MS = 10_000;

export class EndpointState {
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  /** `address:port`, also the key of the endpoint's connection pool. */
  readonly key: string;
  /** Requests sent and not yet completed. */
  active = 0;
  /**
   * Until when (performance.now() ms) outlier detection ejected this endpoint; 0 when not ejected. Set by the policy
   * layers (proxy/policy/); the balance stage skips ejected endpoints while others remain.
   */
  ejectedUntil = 0;
  #ewmaMs = DEFAULT_RTT_MS;
  #lastObservedAt = 0;
  readonly #now: () => number;

  constructor(config: EndpointConfig, now: () => number = performance.now.bind(performance)) {
    this.address = config.address;
    this.port = config.port;
    this.weight = config.weight;
    this.key = config.address.includes(':') ? `[${config.address}]:${config.port}` : `${config.address}:${config.port}`;
    this.#now = now;
  }

  /** Peak EWMA: latency jumps up at once and decays down slowly, so a slowing endpoint is avoided immediately. */
  observeLatency(ms: number): void {
    const now = this.#now();
    if (ms > this.#ewmaMs) {
      this.#ewmaMs = ms;
    } else {
      const elapsed = this.#lastObservedAt === 0 ? DECAY_MS : Math.max(0, now - this.#lastObservedAt);
      const w = Math.exp(-elapsed / DECAY_MS);
      this.#ewmaMs = this.#ewmaMs * w + ms * (1 - w);
    }
    this.#lastObservedAt = now;
  }

  get ewmaMs(): number {
    return this.#ewmaMs;
  }

  /** Expected cost of sending one more request here: latency times queue depth. */
  get cost(): number {
    return (this.#ewmaMs * (this.active + 1)) / this.weight;
  }
}
