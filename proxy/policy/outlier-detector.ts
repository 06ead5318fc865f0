// Per-cluster outlier detection: ejects endpoints after consecutive failures by setting EndpointState.ejectedUntil (balance skips them).
import type { OutlierDetectionConfig } from '../../api/config/policy-config.ts';
import type { EndpointState } from '../balance/endpoint-state.ts';

/** What one try told us about its endpoint. */
export type TryResult = 'success' | 'error-5xx' | 'gateway-error' | 'local-failure';
// error-5xx: a 500/501/505..599 answer; gateway-error: 502, 503 or 504; local-failure: connect failure, reset or per-try timeout.

interface Record {
  consecutive5xx: number;
  consecutiveGateway: number;
  /** Times ejected, decaying by one per interval without failures: the ejection time multiplier. */
  ejections: number;
  /** A failure since the last review (stops the decay). */
  failedSinceReview: boolean;
  /** Back from an ejection and not yet proven healthy: one failure ejects again. */
  probation: boolean;
}

export interface EjectionEvent {
  readonly endpoint: EndpointState;
  readonly reason: 'consecutive-5xx' | 'consecutive-gateway-errors';
  readonly durationMs: number;
  readonly ejections: number;
}

export class OutlierDetector {
  readonly config: OutlierDetectionConfig;
  readonly #now: () => number;
  readonly #onEject: (e: EjectionEvent) => void;
  readonly #records = new Map<EndpointState, Record>();
  #nextReview: number;
  /** Ejections made and skipped (max ejection percent), for metrics and tests. */
  ejectionsTotal = 0;
  ejectionsSkipped = 0;

  constructor(config: OutlierDetectionConfig, now: () => number, onEject: (e: EjectionEvent) => void) {
    this.config = config;
    this.#now = now;
    this.#onEject = onEject;
    this.#nextReview = now() + config.intervalMs;
  }

  #record(ep: EndpointState): Record {
    let r = this.#records.get(ep);
    if (r === undefined) {
      r = { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0, failedSinceReview: false, probation: false };
      this.#records.set(ep, r);
    }
    return r;
  }

  /** Records the result of one try to `ep`, one of `endpoints` (the cluster's current set). */
  observe(ep: EndpointState, result: TryResult, endpoints: readonly EndpointState[]): void {
    const now = this.#now();
    if (now >= this.#nextReview) this.#review(now, endpoints);
    if (result === 'success') {
      const r = this.#records.get(ep);
      if (r !== undefined) {
        r.consecutive5xx = 0;
        r.consecutiveGateway = 0;
        if (now >= ep.ejectedUntil) r.probation = false;
      }
      return;
    }
    if (ep.ejectedUntil > now) return; // a try that was in flight when it was ejected
    const r = this.#record(ep);
    r.failedSinceReview = true;
    r.consecutive5xx++;
    if (result !== 'error-5xx') r.consecutiveGateway++;
    const c = this.config;
    if (r.probation) this.#eject(ep, r, 'consecutive-5xx', now, endpoints);
    else if (c.consecutiveGatewayErrors > 0 && r.consecutiveGateway >= c.consecutiveGatewayErrors) this.#eject(ep, r, 'consecutive-gateway-errors', now, endpoints);
    else if (c.consecutive5xxErrors > 0 && r.consecutive5xx >= c.consecutive5xxErrors) this.#eject(ep, r, 'consecutive-5xx', now, endpoints);
  }

  #eject(ep: EndpointState, r: Record, reason: EjectionEvent['reason'], now: number, endpoints: readonly EndpointState[]): void {
    r.consecutive5xx = 0;
    r.consecutiveGateway = 0;
    let ejected = 0;
    for (const e of endpoints) if (e.ejectedUntil > now) ejected++;
    const max = Math.max(1, Math.floor((endpoints.length * this.config.maxEjectionPercent) / 100));
    if (this.config.maxEjectionPercent <= 0 || ejected >= max) {
      this.ejectionsSkipped++;
      return;
    }
    r.ejections++;
    r.probation = true;
    const durationMs = Math.min(this.config.maxEjectionTimeMs, this.config.baseEjectionTimeMs * r.ejections);
    ep.ejectedUntil = now + durationMs;
    this.ejectionsTotal++;
    this.#onEject({ endpoint: ep, reason, durationMs, ejections: r.ejections });
  }

  /** The periodic review: healthy endpoints' ejection count decays; forgotten endpoints are dropped. */
  #review(now: number, endpoints: readonly EndpointState[]): void {
    this.#nextReview = now + this.config.intervalMs;
    const live = new Set(endpoints);
    for (const [ep, r] of this.#records) {
      if (!live.has(ep)) {
        this.#records.delete(ep);
        continue;
      }
      if (ep.ejectedUntil <= now && !r.failedSinceReview && !r.probation && r.ejections > 0) r.ejections--;
      r.failedSinceReview = false;
    }
  }

  /** How many times `ep` counts as ejected (the multiplier of its next ejection time). */
  ejectionsOf(ep: EndpointState): number {
    return this.#records.get(ep)?.ejections ?? 0;
  }
}

/** Classifies an answer's status for the detector. */
export function resultOfStatus(status: number): TryResult {
  if (status < 500) return 'success';
  return status === 502 || status === 503 || status === 504 ? 'gateway-error' : 'error-5xx';
}
