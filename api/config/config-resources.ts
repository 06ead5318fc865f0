// The proxy's config as named, versioned resources: the kinds a change set carries (from the control plane or a config
// file) and their typed, resolved bodies. api/config/parse-config-resource.ts turns an untrusted body into one of these.
import type { TelemetryConfig } from './telemetry-config.ts';
import type { ClusterConfig, EndpointConfig, LimitsConfig, ListenerConfig, ProxyMode, VirtualHostConfig } from './proxy-config.ts';

/**
 * `settings` (one, named `proxy`): process-wide settings fixed at start (a change is refused as needing a restart).
 * `listener`: a listening socket; its HTTP routes are the route table it names. `route-table`: virtual hosts and routes.
 * `virtual-host`: one more virtual host of a route table, on its own (Envoy's VHDS), so that a change to one Service's
 * routes is one small resource rather than the whole table.
 * `cluster`: an upstream cluster (endpoints inline, or from the `endpoint-set` of the same name, which wins).
 * `endpoint-set`: a cluster's endpoints on their own, so that endpoint churn rebuilds one balancer and nothing else.
 * `outbound-vips`: service VIP:port -> a virtual host of a route table (outbound routing by original destination).
 * `secret`: PEM material held in memory only (never written to disk, never shown by /config_dump).
 */
export const CONFIG_RESOURCE_TYPES = ['settings', 'listener', 'route-table', 'virtual-host', 'cluster', 'endpoint-set', 'outbound-vips', 'secret'] as const;
export type ConfigResourceType = (typeof CONFIG_RESOURCE_TYPES)[number];

/** The name of the one `settings` resource. */
export const SETTINGS_NAME = 'proxy';

export interface ProxySettings {
  readonly mode: ProxyMode;
  readonly node: string;
  readonly admin: { readonly address: string; readonly port: number };
  readonly limits: LimitsConfig;
  readonly drainTimeoutMs: number;
  /** Own workload, tracing, access logs: applied live (the tracer is rebuilt only when this changes). */
  readonly telemetry: TelemetryConfig;
}

/** A listener without inline routes: its HTTP routing is the named route table (null: no HTTP routes). */
export interface ListenerResource extends Omit<ListenerConfig, 'virtualHosts'> {
  readonly routeTable: string | null;
}

export interface RouteTableResource {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHostConfig[];
}

/** A virtual host of the route table `routeTable`, named by the resource (its `virtualHost.name`). */
export interface VirtualHostResource {
  readonly routeTable: string;
  readonly virtualHost: VirtualHostConfig;
}

export interface EndpointSetResource {
  /** The cluster these endpoints belong to (the resource's name). */
  readonly cluster: string;
  readonly endpoints: readonly EndpointConfig[];
}

/** One entry of the VIP table: a connection to address:port belongs to that virtual host, whatever its Host says. */
export interface OutboundVipConfig {
  readonly address: string;
  readonly port: number;
  readonly virtualHost: string;
}

export interface OutboundVipsResource {
  readonly routeTable: string;
  readonly vips: readonly OutboundVipConfig[];
}

/** PEM material; at least one member is set. */
export interface SecretResource {
  readonly certificateChain: string | null;
  readonly privateKey: string | null;
  readonly trustBundle: string | null;
}

export type ParsedResource =
  | { readonly type: 'settings'; readonly value: ProxySettings }
  | { readonly type: 'listener'; readonly value: ListenerResource }
  | { readonly type: 'route-table'; readonly value: RouteTableResource }
  | { readonly type: 'virtual-host'; readonly value: VirtualHostResource }
  | { readonly type: 'cluster'; readonly value: ClusterConfig }
  | { readonly type: 'endpoint-set'; readonly value: EndpointSetResource }
  | { readonly type: 'outbound-vips'; readonly value: OutboundVipsResource }
  | { readonly type: 'secret'; readonly value: SecretResource };
