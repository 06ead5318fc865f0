// The typed configuration model of one Skein proxy: what a static file holds and what the control plane streams.
//
// Every field here is fully resolved (defaults applied). The on-disk / on-the-wire form is the same shape with most
// fields optional; `parseProxyConfig` turns it into this model or returns every problem at once.

import type { AuthorizationConfig, InboundMtlsConfig, MeshTlsConfig } from './mesh-identity-config.ts';
import type { EdgePolicyConfig } from './edge-policy-config.ts';
import type { CircuitBreakerConfig, LocalRateLimitConfig, OutlierDetectionConfig, RoutePolicyConfig } from './policy-config.ts';
import type { DestinationMetadata, TelemetryConfig } from './telemetry-config.ts';

export type ProxyMode = 'sidecar' | 'ingress';
export type ListenerDirection = 'inbound' | 'outbound' | 'ingress';
/** `detect` sniffs each connection: HTTP/1.1, HTTP/2 prior knowledge, TLS (ALPN), otherwise opaque TCP. */
export type ListenerProtocol = 'detect' | 'http' | 'tcp';
export type UpstreamProtocol = 'http1' | 'http2';
export type LoadBalancerPolicy = 'p2c-ewma' | 'round-robin' | 'least-request' | 'ring-hash';

export interface ProxyConfig {
  /** Opaque version string; reported by /config_dump and acknowledged to the control plane. */
  readonly version: string;
  readonly mode: ProxyMode;
  /** Name of this proxy (pod name in Kubernetes); used in logs and telemetry. */
  readonly node: string;
  readonly admin: AdminConfig;
  readonly listeners: readonly ListenerConfig[];
  readonly clusters: readonly ClusterConfig[];
  readonly limits: LimitsConfig;
  /** How long SIGTERM waits for in-flight requests before exiting. */
  readonly drainTimeoutMs: number;
  /** Who this proxy is (metric labels), traces and access logs. */
  readonly telemetry: TelemetryConfig;
}

export interface AdminConfig {
  readonly address: string;
  readonly port: number;
}

export interface ListenerConfig {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly direction: ListenerDirection;
  readonly protocol: ListenerProtocol;
  /** HTTP routing table, matched by Host / :authority. */
  readonly virtualHosts: readonly VirtualHostConfig[];
  /** Where opaque TCP (and TLS that this listener does not terminate) goes. Absent: such connections are refused. */
  readonly tcpCluster: string | null;
  /** TLS termination for this listener (ingress); null passes TLS through as opaque TCP. */
  readonly tls: ListenerTlsConfig | null;
  /** A token bucket over every HTTP request this listener serves (before routing); null: none. */
  readonly rateLimit: LocalRateLimitConfig | null;
  /** Inbound: mTLS with the workload certificate (permissive or strict, per port); absent or null: plain text only. */
  readonly mtls?: InboundMtlsConfig | null;
  /** Inbound: who may call (AuthorizationPolicy); absent or null: no authorization layer at all. */
  readonly authorization?: AuthorizationConfig | null;
  /**
   * How many proxies in front of this listener are trusted to append the client to x-forwarded-for (a cloud load
   * balancer: 1). The client address that IP filters see, and the x-forwarded-for kept toward the upstream, go back at
   * most this many hops; anything a client wrote beyond them is not believed. 0 (or absent): the connection's peer is the client.
   */
  readonly xffTrustedHops?: number;
  /** Edge policies for every route of this listener (a route may replace each kind with its own). Absent: none. */
  readonly edge?: EdgePolicyConfig;
}

export interface ListenerTlsConfig extends TlsCertificateConfig {
  /** ALPN protocols offered, in preference order. */
  readonly alpn: readonly ('h2' | 'http/1.1')[];
  /**
   * More certificates, chosen by the client's SNI against each certificate's DNS names (wildcards included); the
   * certFile/keyFile pair above answers a client whose SNI matches none of them, or that sent none.
   */
  readonly certificates?: readonly TlsCertificateConfig[];
  /**
   * The hostnames of the Gateway listeners this port serves (lower case; `*.suffix` a wildcard, `*` a listener without
   * hostname). Set: a request whose Host differs from the connection's SNI is answered 421 only when the two select
   * different listeners. Absent: 421 whenever they differ.
   */
  readonly listenerHostnames?: readonly string[];
  /** Client certificates asked for and checked against these CAs (mutual TLS at the edge). Absent or null: none asked for. */
  readonly clientValidation?: ClientValidationConfig | null;
}

/**
 * How a TLS listener validates its clients' certificates (a Gateway's `spec.tls.frontend`). The trust anchors are PEM
 * bundles from files or from `secret` resources' `trustBundle` (how the control plane sends a Gateway's CA ConfigMaps);
 * at least one is given.
 */
export interface ClientValidationConfig {
  readonly caFiles?: readonly string[];
  readonly caSecrets?: readonly string[];
  /**
   * `require`: the handshake fails unless the client presents a certificate that chains to one of the CAs (Gateway API
   * AllowValidOnly). `allow-insecure-fallback`: a certificate is asked for, but a client without one, or with one that
   * does not verify, is served all the same (AllowInsecureFallback: authorization is left to the backend).
   */
  readonly mode: ClientValidationMode;
}

export type ClientValidationMode = 'require' | 'allow-insecure-fallback';

/**
 * A certificate and its key: from two PEM files, or from the `secret` resource of that name (certificateChain and
 * privateKey, held in memory only: how the control plane sends a Gateway's certificates). Exactly one of the two forms.
 */
export interface TlsCertificateConfig {
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly secret?: string;
}

export interface VirtualHostConfig {
  readonly name: string;
  /** Host names (lower case, optional :port); `*` matches anything, `*.example.com` a suffix. */
  readonly domains: readonly string[];
  readonly routes: readonly RouteConfig[];
}

/** A route; its traffic policies (retries, rate limit, fault, mirrors, stream idle timeout) come from RoutePolicyConfig. */
export interface RouteConfig extends RoutePolicyConfig {
  readonly name: string;
  readonly match: RouteMatchConfig;
  /** Weighted backends; weights are relative (90/10 is a canary split). */
  readonly backends: readonly WeightedBackendConfig[];
  /** Answer directly instead of forwarding (used when backends is empty). */
  readonly directResponse: DirectResponseConfig | null;
  readonly requestHeaders: HeaderMutationConfig;
  readonly responseHeaders: HeaderMutationConfig;
  /** Whole-request timeout; 0 means none (gRPC's grpc-timeout still applies). */
  readonly timeoutMs: number;
  /** Edge policies of this route; each kind set here replaces the listener's. Absent (built by code, not parsed): none. */
  readonly edge?: EdgePolicyConfig;
  /** Answer with a redirect instead of forwarding (Gateway API RequestRedirect); backends are then not used. */
  readonly redirect: RedirectConfig | null;
  /** Rewrite the Host and/or path before forwarding (Gateway API URLRewrite). */
  readonly rewrite: RewriteConfig | null;
}

/**
 * How a redirect or rewrite changes the path. `full`: the whole path becomes `value`. `prefix`: the part matched by the
 * route's prefix match (which must then be a `prefix` match) is replaced by `value`, the rest kept (Gateway API
 * ReplacePrefixMatch). The query string is always kept.
 */
export type PathModifierConfig = { readonly type: 'full'; readonly value: string } | { readonly type: 'prefix'; readonly value: string };

export interface RedirectConfig {
  /** null: the request's scheme. */
  readonly scheme: 'http' | 'https' | null;
  /** null: the request's host (without its port). */
  readonly hostname: string | null;
  /** null: the well-known port of `scheme` when it is set, else the request's port. Omitted from Location for 80/http, 443/https. */
  readonly port: number | null;
  readonly path: PathModifierConfig | null;
  readonly statusCode: 301 | 302 | 303 | 307 | 308;
}

export interface RewriteConfig {
  /** The Host / :authority sent upstream; null keeps the client's. */
  readonly hostname: string | null;
  readonly path: PathModifierConfig | null;
}

export interface RouteMatchConfig {
  readonly path: PathMatchConfig | null;
  /** Upper-case methods; empty matches any. */
  readonly methods: readonly string[];
  readonly headers: readonly HeaderMatchConfig[];
  readonly query: readonly QueryMatchConfig[];
}

export type PathMatchConfig =
  | { readonly type: 'exact'; readonly value: string }
  | { readonly type: 'prefix'; readonly value: string }
  | { readonly type: 'regex'; readonly value: string };

export interface HeaderMatchConfig {
  /** Lower-case header name. */
  readonly name: string;
  readonly type: 'exact' | 'prefix' | 'regex' | 'present';
  readonly value: string;
  /** True: the route matches when this condition does NOT hold. */
  readonly invert: boolean;
}

export interface QueryMatchConfig {
  readonly name: string;
  readonly type: 'exact' | 'regex' | 'present';
  readonly value: string;
}

export interface WeightedBackendConfig {
  readonly cluster: string;
  readonly weight: number;
  /** Request header changes for this backend only (Gateway API backendRef filters), applied after the route's own. */
  readonly requestHeaders?: HeaderMutationConfig;
}

export interface DirectResponseConfig {
  readonly status: number;
  readonly body: string;
}

export interface HeaderMutationConfig {
  /** Replace (or add) these headers. */
  readonly set: Readonly<Record<string, string>>;
  /** Append these headers, keeping existing values. */
  readonly add: Readonly<Record<string, string>>;
  /** Remove these headers (lower-case names). */
  readonly remove: readonly string[];
}

export interface ClusterConfig {
  readonly name: string;
  /**
   * `static`: the listed endpoints. `original-destination`: wherever the connection was headed before iptables
   * redirected it to the proxy (SO_ORIGINAL_DST) — the sidecar's pass-through; `endpoints` is ignored.
   */
  readonly type: 'static' | 'original-destination';
  /**
   * Endpoint ports spoken to over HTTP/2 by prior knowledge (h2c, or h2 over mesh TLS) whatever `protocol` says for the
   * others: the sidecar's inbound cluster lists its app's `kubernetes.io/h2c` ports. Absent: `protocol` for every port.
   */
  readonly http2Ports?: readonly number[];
  /** original-destination only: connect to this address instead, keeping the port (127.0.0.1 for the inbound app). */
  readonly originalDestinationAddress: string | null;
  readonly protocol: UpstreamProtocol;
  readonly loadBalancer: LoadBalancerConfig;
  readonly connectTimeoutMs: number;
  /** Idle upstream connections are closed after this long. */
  readonly idleTimeoutMs: number;
  /** Cap on open HTTP/1.1 connections per endpoint (requests beyond it wait for a free connection). */
  readonly maxConnectionsPerEndpoint: number;
  readonly endpoints: readonly EndpointConfig[];
  /** Limits on connections, pending and in-flight requests and retries; null: none. */
  readonly circuitBreaker: CircuitBreakerConfig | null;
  /** Ejects endpoints that keep failing; null: none. */
  readonly outlierDetection: OutlierDetectionConfig | null;
  /** mTLS to the meshed endpoints (those with an identity); absent or null: plain text to every endpoint. */
  readonly meshTls?: MeshTlsConfig | null;
  /**
   * TLS originated to the endpoints' own server (a BackendTLSPolicy): the proxy is the TLS client of the app, verifying
   * its certificate. To a meshed endpoint this session runs inside the mesh mTLS session (opaque TCP to the app's port).
   * Absent or null: none.
   */
  readonly upstreamTls?: UpstreamTlsConfig | null;
  /** Who the endpoints are (workload, namespace, identity, Service) for metric labels and spans; an endpoint's own wins. */
  readonly destination?: Partial<DestinationMetadata>;
}

/** How the proxy originates TLS to a cluster's endpoints and what it accepts of their certificates. */
export interface UpstreamTlsConfig {
  /** The SNI sent; also the name the server certificate must carry (DNS SAN) when `subjectAltNames` is empty. */
  readonly sni: string;
  /** Trust anchors: PEM CA files, `secret` resources' trustBundle, and/or the well-known roots Node carries. At least one. */
  readonly caFiles?: readonly string[];
  readonly caSecrets?: readonly string[];
  readonly systemCas?: boolean;
  /** Set: the certificate must carry one of these SANs (and the SNI is then not checked against it). */
  readonly subjectAltNames?: readonly UpstreamSubjectAltName[];
  /** The certificate the proxy presents if the server asks for one (a Gateway's spec.tls.backend.clientCertificateRef). */
  readonly clientCertificate?: TlsCertificateConfig;
  /** ALPN offered; absent: by the cluster's protocol (`h2` or `http/1.1`). */
  readonly alpn?: readonly ('h2' | 'http/1.1')[];
}

export interface UpstreamSubjectAltName {
  readonly type: 'dns' | 'uri';
  readonly value: string;
}

export interface LoadBalancerConfig {
  readonly policy: LoadBalancerPolicy;
  /** ring-hash only: what to hash. */
  readonly hashOn: HashOnConfig | null;
}

export type HashOnConfig =
  | { readonly type: 'header'; readonly name: string }
  | { readonly type: 'cookie'; readonly name: string }
  | { readonly type: 'source-ip' };

export interface EndpointConfig {
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  /** The SPIFFE id of the workload behind this endpoint (its pod's ServiceAccount); absent or null: the cluster's, if any. */
  readonly identity?: string | null;
  /** Who this endpoint is, where it differs from its cluster's `destination` (pods of one Service may run as several workloads). */
  readonly destination?: Partial<DestinationMetadata>;
}

export interface LimitsConfig {
  readonly maxRequestHeaderBytes: number;
  readonly maxHeaderCount: number;
  readonly headersTimeoutMs: number;
  readonly requestIdleTimeoutMs: number;
  readonly connectionIdleTimeoutMs: number;
  readonly http2MaxConcurrentStreams: number;
  readonly http2StreamWindowBytes: number;
  readonly http2ConnectionWindowBytes: number;
  readonly maxBufferedBytesPerConnection: number;
  readonly maxConnectionsPerListener: number;
  /** `detect` listeners with a tcpCluster: a connection whose client sends nothing for this long is opaque TCP (server-first protocols). */
  readonly protocolDetectTimeoutMs: number;
}
