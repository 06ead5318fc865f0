// Skein's PolicyLayers: compiles each route's and cluster's policy config into layers, once, with state that outlives a request.
import type { ClusterConfig } from '../../api/config/proxy-config.ts';
import type { EndpointState } from '../balance/endpoint-state.ts';
import { log } from '../log.ts';
import type { ClusterTarget, PolicyDeps, PolicyLayers, RouteTarget } from '../stack/policy-slot.ts';
import type { Layer } from '../stack/service.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { circuitBreakerLayer } from './circuit-breaker-layer.ts';
import { FaultDecision } from './fault-decision.ts';
import { faultInjectionLayer } from './fault-injection.ts';
import { localRateLimitLayer } from './local-rate-limit.ts';
import { OutlierDetector } from './outlier-detector.ts';
import { outlierLayer } from './outlier-layer.ts';
import { requestMirrorLayer, type MirrorCounters } from './request-mirror.ts';
import { retryLayer, type RetryCounters } from './retry.ts';
import { RetryBudget } from './retry-budget.ts';
import { RetryPolicy } from './retry-policy.ts';
import { streamIdleLayer } from './timeout.ts';
import { TokenBucket } from './token-bucket.ts';

/**
 * Route layers, outermost first: listener rate limit -> route rate limit -> fault -> mirror -> retry -> stream idle. Limits and faults
 * sit outside retry so that a refused or aborted request is answered once, never retried (as Envoy's filters before its
 * router). Cluster layers: circuit breaker -> outlier observation.
 */
export class SkeinPolicyLayers implements PolicyLayers {
  readonly #breakers = new Map<string, { config: ClusterConfig['circuitBreaker']; breaker: CircuitBreaker }>();
  readonly #detectors = new Map<string, { config: ClusterConfig['outlierDetection']; detector: OutlierDetector }>();
  readonly #listenerBuckets = new Map<string, { config: unknown; bucket: TokenBucket }>();
  readonly retryCounters: RetryCounters = { retries: 0, budgetExhausted: 0, bodyTooLarge: 0, breakerOverflow: 0 };
  readonly mirrorCounters: MirrorCounters = { sent: 0, skippedBody: 0, failed: 0 };

  readonly #breakerOf = (c: UpstreamCluster | null): CircuitBreaker | null => (c === null ? null : (this.#breakers.get(c.name)?.breaker ?? null));

  route(target: RouteTarget, deps: PolicyDeps): readonly Layer[] {
    const layers: Layer[] = [];
    const cfg = target.route.config;
    const lrl = target.listener.rateLimit;
    if (lrl !== null) {
      let b = this.#listenerBuckets.get(target.listener.name);
      if (b === undefined || JSON.stringify(b.config) !== JSON.stringify(lrl)) {
        b = { config: lrl, bucket: new TokenBucket(lrl, deps.now()) };
        this.#listenerBuckets.set(target.listener.name, b);
      }
      layers.push(localRateLimitLayer(b.bucket, deps.now));
    }
    if (cfg.rateLimit !== null) layers.push(localRateLimitLayer(new TokenBucket(cfg.rateLimit, deps.now()), deps.now));
    if (cfg.fault !== null) layers.push(faultInjectionLayer(new FaultDecision(cfg.fault), deps));
    for (const m of cfg.mirrors) {
      const shadow = deps.clusterService(m.cluster);
      if (shadow !== null) layers.push(requestMirrorLayer(m, shadow, deps, this.mirrorCounters));
    }
    // Inside the retry: each try's body gets its own idle timer.
    if (cfg.retries !== null) {
      const policy = new RetryPolicy(cfg.retries);
      layers.push(retryLayer(policy, new RetryBudget(cfg.retries.budget, deps.now()), deps, this.#breakerOf, this.retryCounters));
    }
    if (cfg.streamIdleTimeoutMs > 0) layers.push(streamIdleLayer(cfg.streamIdleTimeoutMs));
    return layers;
  }

  cluster(target: ClusterTarget, deps: PolicyDeps): readonly Layer[] {
    const layers: Layer[] = [];
    const c = target.cluster;
    const cb = c.config.circuitBreaker;
    if (cb !== null) {
      // Kept across config versions while the limits are the same: in-flight counts must not reset on an unrelated change.
      let b = this.#breakers.get(c.name);
      if (b === undefined || JSON.stringify(b.config) !== JSON.stringify(cb)) {
        b = { config: cb, breaker: new CircuitBreaker(cb) };
        this.#breakers.set(c.name, b);
      }
      layers.push(circuitBreakerLayer(b.breaker));
    } else this.#breakers.delete(c.name);
    const od = c.config.outlierDetection;
    if (od !== null) {
      let d = this.#detectors.get(c.name);
      if (d === undefined || JSON.stringify(d.config) !== JSON.stringify(od)) {
        const name = c.name;
        d = {
          config: od,
          detector: new OutlierDetector(od, deps.now, (e) =>
            log('warn', 'outlier detection ejected an endpoint', { cluster: name, endpoint: e.endpoint.key, reason: e.reason, durationMs: e.durationMs, ejections: e.ejections }),
          ),
        };
        this.#detectors.set(c.name, d);
      }
      const states: readonly EndpointState[] = c.endpoints.map((h) => h.state);
      layers.push(outlierLayer(d.detector, () => states));
    } else this.#detectors.delete(c.name);
    return layers;
  }
}
