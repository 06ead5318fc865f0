// Where the policy layers (proxy/policy/) plug into the stack: per-route layers above balance, per-cluster layers below it.
import type { ListenerConfig } from '../../api/config/proxy-config.ts';
import type { CompiledRoute } from '../routing/route-table.ts';
import type { ProxyMetrics } from '../telemetry/proxy-metrics.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import type { Layer, Service } from './service.ts';

/** What a policy layer factory may use besides its target (injected, so tests drive them with fakes). */
export interface PolicyDeps {
  /** performance.now()-like clock in ms. */
  readonly now: () => number;
  readonly random: () => number;
  readonly metrics: ProxyMetrics;
  /** The balance -> endpoint -> client service of another cluster (a mirror's shadow), or null if no such cluster. */
  clusterService(name: string): Service | null;
}

/** The target of route-level layers: one route of one listener, with the cluster its backend names. */
export interface RouteTarget {
  readonly listener: ListenerConfig;
  readonly route: CompiledRoute;
}

/** The target of cluster-level layers. */
export interface ClusterTarget {
  readonly cluster: UpstreamCluster;
}

/**
 * The policy layers, built at config time. Each returns its layers outermost first; a policy whose config is off
 * contributes no layer. Stack order (docs/proxy-design.md):
 *   serve -> authorize -> route -> route(...) [rate limit, fault, mirror, retry] -> balance
 *     -> cluster(...) [circuit breaker, outlier observation] -> endpoint -> http1-client | http2-client
 * Route layers see `req.route` and `req.cluster` set and call their inner service once per attempt; `req.endpoint` is
 * set by balance, so cluster layers see the endpoint of this attempt.
 */
export interface PolicyLayers {
  route(target: RouteTarget, deps: PolicyDeps): readonly Layer[];
  cluster(target: ClusterTarget, deps: PolicyDeps): readonly Layer[];
  /**
   * Only the admission checks among the route layers (the edge policies: IP filter, CORS, JWT, external authorization),
   * for what does not go through the route stack but must pass the same checks (a WebSocket upgrade). Absent: none.
   */
  edge?(target: RouteTarget): readonly Layer[];
}

export const NO_POLICY: PolicyLayers = { route: () => [], cluster: () => [] };
