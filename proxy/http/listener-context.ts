// What an HTTP listener's request handling needs from the running proxy; swapped as a whole when config changes.
import type { ListenerConfig, LimitsConfig, ProxyMode } from '../../api/config/proxy-config.ts';
import type { RouteTable } from '../routing/route-table.ts';
import type { ServiceRouteTable } from '../routing/service-route-table.ts';
import type { PolicyLayers } from '../stack/policy-slot.ts';
import type { Authorizer, StackHooks } from '../stack/stack-hooks.ts';
import type { WorkloadTls } from '../identity/workload-tls.ts';
import type { ConnectionAuthorizer } from '../identity/authorizer.ts';
import type { ProxyMetrics } from '../telemetry/proxy-metrics.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import type { TlsSecrets } from '../identity/tls-material.ts';

/** The verified mesh identity of the peer (SPIFFE id), stored on a socket that completed inbound mTLS. */
export const PEER_IDENTITY: unique symbol = Symbol('skein.peerIdentity');

/** Where a redirected connection was headed, stored on the accepted socket (read by original-destination clusters). */
export const ORIGINAL_DST: unique symbol = Symbol('skein.originalDst');

export interface ListenerSnapshot {
  readonly mode: ProxyMode;
  readonly listener: ListenerConfig;
  readonly limits: LimitsConfig;
  /** Host-based routes (the listener's virtual hosts). */
  readonly routes: RouteTable;
  /**
   * Outbound: routes by the connection's original destination (service VIP:port), tried before the Host-based routes.
   * Absent or null: Host-based routing only (no lookup cost).
   */
  readonly serviceRoutes?: ServiceRouteTable | null;
  readonly clusters: ReadonlyMap<string, UpstreamCluster>;
  /** True when some cluster routes by original destination, so accepted sockets must record it. */
  readonly needsOriginalDst: boolean;
  /** The listener's compiled authorization (its `authorization` config); absent or null: no authorization layer. */
  readonly authorize?: Authorizer | null;
  /** The same config's check of opaque TCP connections (made with `authorize`); absent or null: TCP is not checked. */
  readonly authorizeConnection?: ConnectionAuthorizer | null;
  /** The `secret` resources its TLS certificates name (absent: none; certificates from files only). */
  readonly tlsSecrets?: TlsSecrets;
}

export interface ListenerContext {
  /** The current snapshot; read once per request so a config swap never mixes two configs in one request. */
  snapshot(): ListenerSnapshot;
  readonly metrics: ProxyMetrics;
  /** True once SIGTERM started draining: responses ask clients to close their connections. */
  draining(): boolean;
  /** Counts requests in flight so draining can wait for them. */
  requestStarted(): void;
  requestFinished(): void;
  /** The policy layers (proxy/policy/) for this listener's stacks; absent: none. Read when a snapshot's stack is built. */
  readonly policy?: PolicyLayers;
  /** Authorization and span hooks; absent or null members: no layer. */
  readonly hooks?: StackHooks;
  /** This workload's certificate for inbound mTLS (read per connection); absent or null: none yet. */
  readonly workloadTls?: () => WorkloadTls | null;
}
