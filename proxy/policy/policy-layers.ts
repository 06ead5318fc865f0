// Skein's PolicyLayers: compiles each route's and cluster's policy config into layers, once, with state that outlives a request.
import type { ClusterConfig } from '../../api/config/proxy-config.ts';
import { log } from '../log.ts';
import type { ClusterTarget, PolicyDeps, PolicyLayers, RouteTarget } from '../stack/policy-slot.ts';
import type { Layer } from '../stack/service.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { circuitBreakerLayer } from './circuit-breaker-layer.ts';
import { FaultDecision } from './fault-decision.ts';
import { faultInjectionLayer } from './fault-injection.ts';
import { localRateLimitLayer, sharedRateLimitLayer, type SharedBuckets } from './local-rate-limit.ts';
import { OutlierDetector } from './outlier-detector.ts';
import { registerPolicyMetrics, type PolicyEvent } from './policy-metrics.ts';
import { outlierLayer } from './outlier-layer.ts';
import { requestMirrorLayer, type MirrorCounters } from './request-mirror.ts';
import { retryLayer, type RetryCounters } from './retry.ts';
import { RetryBudget } from './retry-budget.ts';
import { RetryPolicy } from './retry-policy.ts';
import { streamIdleLayer } from './timeout.ts';
import { TokenBucket } from './token-bucket.ts';
import { EdgePolicies } from './edge-policies.ts';

/**
 * Route layers, outermost first: the edge policies (ip filter -> cors -> jwt -> ext authz; edge-policies.ts) -> listener rate limit -> route rate limit -> fault -> mirror -> retry -> stream idle. Limits and faults
 * sit outside retry so that a refused or aborted request is answered once, never retried (as Envoy's filters before its
 * router). Cluster layers: circuit breaker -> outlier observation.
 */
export class SkeinPolicyLayers implements PolicyLayers {
  readonly #breakers = new Map<string, { config: ClusterConfig['circuitBreaker']; breaker: CircuitBreaker }>();
  readonly #detectors = new Map<string, { config: ClusterConfig['outlierDetection']; detector: OutlierDetector }>();
  readonly #listenerBuckets = new Map<string, { config: unknown; bucket: TokenBucket }>();
  /** Per route name: kept across config versions, so that the exported totals never go down. */
  readonly #retryCounters = new Map<string, RetryCounters>();
  readonly #mirrorCounters = new Map<string, MirrorCounters>();
  /** The edge policies' state (JWKS caches) and counters, kept across config versions like the buckets. */
  readonly #edge: EdgePolicies;

  /** Set in the ingress's worker processes: the rate limits hold for the whole proxy, not per worker. */
  readonly #shared: SharedBuckets | null;

  /** `edge` is injected by tests (fake HTTP calls and wall clock); `shared`: the workers' shared buckets (else local ones). */
  constructor(edge: EdgePolicies = new EdgePolicies(), shared: SharedBuckets | null = null) {
    this.#edge = edge;
    this.#shared = shared;
  }
  /** Breaker refusals and ejections of clusters that were replaced, so that totals survive a limit change. */
  readonly #retired = new Map<string, number>();

  #retryCountersOf(route: string): RetryCounters {
    let c = this.#retryCounters.get(route);
    if (c === undefined) this.#retryCounters.set(route, (c = { retries: 0, budgetExhausted: 0, bodyTooLarge: 0, breakerOverflow: 0 }));
    return c;
  }

  #mirrorCountersOf(route: string): MirrorCounters {
    let c = this.#mirrorCounters.get(route);
    if (c === undefined) this.#mirrorCounters.set(route, (c = { sent: 0, skippedBody: 0, failed: 0 }));
    return c;
  }

  #retire(key: string, value: number): void {
    if (value > 0) this.#retired.set(key, (this.#retired.get(key) ?? 0) + value);
  }

  /** Every figure for skein_policy_events_total. */
  *events(): Iterable<PolicyEvent> {
    for (const [route, c] of this.#retryCounters) {
      yield [`route:${route}`, 'retry', c.retries];
      yield [`route:${route}`, 'retry_budget_exhausted', c.budgetExhausted];
      yield [`route:${route}`, 'retry_body_too_large', c.bodyTooLarge];
      yield [`route:${route}`, 'retry_overflow', c.breakerOverflow];
    }
    for (const [route, c] of this.#mirrorCounters) {
      yield [`route:${route}`, 'mirror_sent', c.sent];
      yield [`route:${route}`, 'mirror_failed', c.failed];
      yield [`route:${route}`, 'mirror_skipped_body', c.skippedBody];
    }
    yield* this.#edge.events();
    const totals = new Map(this.#retired);
    const add = (key: string, v: number): void => void totals.set(key, (totals.get(key) ?? 0) + v);
    for (const [name, { breaker }] of this.#breakers) {
      const o = breaker.overflows;
      add(`cluster:${name}\u0000max_pending`, o.pending);
      add(`cluster:${name}\u0000pending_timeout`, o.pendingTimeout);
      add(`cluster:${name}\u0000max_connections`, o.connections);
    }
    for (const [name, { detector }] of this.#detectors) {
      add(`cluster:${name}\u0000outlier_ejection`, detector.ejectionsTotal);
      add(`cluster:${name}\u0000outlier_ejection_skipped`, detector.ejectionsSkipped);
    }
    for (const [key, v] of totals) {
      const [target, event] = key.split('\u0000') as [string, string];
      yield [target, event, v];
    }
  }

  #retireBreaker(name: string, b: CircuitBreaker): void {
    this.#retire(`cluster:${name}\u0000max_pending`, b.overflows.pending);
    this.#retire(`cluster:${name}\u0000pending_timeout`, b.overflows.pendingTimeout);
    this.#retire(`cluster:${name}\u0000max_connections`, b.overflows.connections);
  }

  #retireDetector(name: string, d: OutlierDetector): void {
    this.#retire(`cluster:${name}\u0000outlier_ejection`, d.ejectionsTotal);
    this.#retire(`cluster:${name}\u0000outlier_ejection_skipped`, d.ejectionsSkipped);
  }

  // Buckets and budgets by listener and route name: a config change rebuilds every route's stack, and a bucket made
  // anew each time would hand out a fresh burst on every edit (a push storm would lift the limit).
  readonly #routeBuckets = new Map<string, { config: unknown; value: TokenBucket }>();
  readonly #budgets = new Map<string, { config: unknown; value: RetryBudget }>();

  #kept<T>(map: Map<string, { config: unknown; value: T }>, key: string, config: unknown, make: () => T): T {
    const k = map.get(key);
    if (k !== undefined && JSON.stringify(k.config) === JSON.stringify(config)) return k.value;
    const value = make();
    map.set(key, { config, value });
    return value;
  }

  readonly #breakerOf = (c: UpstreamCluster | null): CircuitBreaker | null => (c === null ? null : (this.#breakers.get(c.name)?.breaker ?? null));

  route(target: RouteTarget, deps: PolicyDeps): readonly Layer[] {
    registerPolicyMetrics(deps.metrics.registry, () => this.events());
    const layers: Layer[] = [];
    const cfg = target.route.config;
    this.#edge.layers(target, layers);
    const lrl = target.listener.rateLimit;
    // The virtual host too: translation names every Service's route "default", and each must have its own bucket.
    const key = `${target.listener.name}\u0000${target.route.virtualHost}\u0000${cfg.name}`;
    const shared = this.#shared;
    if (shared !== null) {
      // Kept by key and settings in the shared store itself (leased-bucket.ts), across config versions as below.
      if (lrl !== null) layers.push(sharedRateLimitLayer(shared.bucket(`listener:${target.listener.name}`, lrl), deps.now));
      if (cfg.rateLimit !== null) layers.push(sharedRateLimitLayer(shared.bucket(`route:${key}`, cfg.rateLimit), deps.now));
    } else if (lrl !== null) {
      let b = this.#listenerBuckets.get(target.listener.name);
      if (b === undefined || JSON.stringify(b.config) !== JSON.stringify(lrl)) {
        b = { config: lrl, bucket: new TokenBucket(lrl, deps.now()) };
        this.#listenerBuckets.set(target.listener.name, b);
      }
      layers.push(localRateLimitLayer(b.bucket, deps.now));
    }
    if (shared === null && cfg.rateLimit !== null) layers.push(localRateLimitLayer(this.#kept(this.#routeBuckets, key, cfg.rateLimit, () => new TokenBucket(cfg.rateLimit!, deps.now())), deps.now));
    if (cfg.fault !== null) layers.push(faultInjectionLayer(new FaultDecision(cfg.fault), deps));
    for (const m of cfg.mirrors) {
      const shadow = deps.clusterService(m.cluster);
      if (shadow !== null) layers.push(requestMirrorLayer(m, shadow, deps, this.#mirrorCountersOf(cfg.name)));
    }
    // Inside the retry: each try's body gets its own idle timer.
    if (cfg.retries !== null) {
      const policy = new RetryPolicy(cfg.retries);
      const budget = this.#kept(this.#budgets, key, cfg.retries.budget, () => new RetryBudget(cfg.retries!.budget, deps.now()));
      layers.push(retryLayer(policy, budget, deps, this.#breakerOf, this.#retryCountersOf(cfg.name)));
    }
    if (cfg.streamIdleTimeoutMs > 0) layers.push(streamIdleLayer(cfg.streamIdleTimeoutMs));
    return layers;
  }

  edge(target: RouteTarget): readonly Layer[] {
    const layers: Layer[] = [];
    this.#edge.layers(target, layers);
    return layers;
  }

  cluster(target: ClusterTarget, deps: PolicyDeps): readonly Layer[] {
    registerPolicyMetrics(deps.metrics.registry, () => this.events());
    const layers: Layer[] = [];
    const c = target.cluster;
    const cb = c.config.circuitBreaker;
    if (cb !== null) {
      // Kept across config versions while the limits are the same: in-flight counts must not reset on an unrelated change.
      let b = this.#breakers.get(c.name);
      if (b === undefined || JSON.stringify(b.config) !== JSON.stringify(cb)) {
        if (b !== undefined) this.#retireBreaker(c.name, b.breaker);
        b = { config: cb, breaker: new CircuitBreaker(cb) };
        this.#breakers.set(c.name, b);
      }
      layers.push(circuitBreakerLayer(b.breaker));
    } else {
      const old = this.#breakers.get(c.name);
      if (old !== undefined) this.#retireBreaker(c.name, old.breaker);
      this.#breakers.delete(c.name);
    }
    const od = c.config.outlierDetection;
    if (od !== null) {
      let d = this.#detectors.get(c.name);
      if (d === undefined || JSON.stringify(d.config) !== JSON.stringify(od)) {
        if (d !== undefined) this.#retireDetector(c.name, d.detector);
        const name = c.name;
        d = {
          config: od,
          detector: new OutlierDetector(od, deps.now, (e) =>
            log('warn', 'outlier detection ejected an endpoint', { cluster: name, endpoint: e.endpoint.key, reason: e.reason, durationMs: e.durationMs, ejections: e.ejections }),
          ),
        };
        this.#detectors.set(c.name, d);
      }
      // Read at each observation: an endpoint-only change swaps the cluster's endpoints without rebuilding this layer.
      layers.push(outlierLayer(d.detector, () => c.endpointStates));
    } else {
      const old = this.#detectors.get(c.name);
      if (old !== undefined) this.#retireDetector(c.name, old.detector);
      this.#detectors.delete(c.name);
    }
    return layers;
  }
}
