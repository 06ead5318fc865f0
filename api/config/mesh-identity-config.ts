// The proxy's mesh-identity model: mutual TLS toward meshed endpoints, the inbound mTLS mode, and who may call the workload.
//
// The control plane fills these from EndpointSlices + Pods (each ready endpoint's pod runs as a ServiceAccount, whose SPIFFE
// id is the identity to expect), from the mesh / namespace / workload mTLS settings, and from the AuthorizationPolicy
// objects that select the workload (api/crd/authorization-policy.ts converts one). The proxy only enforces.

/**
 * mTLS toward a cluster's endpoints. An endpoint with an identity (its own, else the cluster's) is reached over mutual TLS
 * 1.3 with this proxy's workload certificate, and its certificate's SPIFFE URI SAN must EQUAL that identity; an endpoint
 * with neither (a pod outside the mesh) is reached in plain text.
 */
export interface MeshTlsConfig {
  /** The SPIFFE id every endpoint must present unless it names its own; null: only endpoints with their own identity. */
  readonly identity: string | null;
}

export type InboundMtlsMode = 'permissive' | 'strict';

/** How an inbound listener treats callers: `permissive` takes mTLS and plain text, `strict` only mTLS. */
export interface InboundMtlsConfig {
  readonly mode: InboundMtlsMode;
  /** Per destination port (the app port a connection was headed to): overrides `mode`. */
  readonly ports: readonly { readonly port: number; readonly mode: InboundMtlsMode }[];
}

/**
 * Who may call the workload behind an inbound listener. No policy: `defaultAction`. One or more policies: a request is
 * allowed when some rule of some policy matches it, and denied otherwise (deny when selected).
 */
export interface AuthorizationConfig {
  readonly defaultAction: 'allow' | 'deny';
  readonly policies: readonly AuthorizationPolicyConfig[];
}

export interface AuthorizationPolicyConfig {
  /** `namespace/name` of the AuthorizationPolicy (a metric label and the log line's policy). */
  readonly name: string;
  readonly rules: readonly AuthorizationRuleConfig[];
}

/** A rule matches when its `from` matches the caller (empty: any caller) and its `to` the request (empty: any request). */
export interface AuthorizationRuleConfig {
  readonly from: readonly AuthorizationSourceConfig[];
  readonly to: readonly AuthorizationTargetConfig[];
}

/** One caller condition; its set fields must all hold (an empty source matches any caller, verified or not). */
export interface AuthorizationSourceConfig {
  /** Exact SPIFFE ids, or `*` for any verified caller. */
  readonly identities: readonly string[];
  /** Namespaces of verified callers (from their SPIFFE id). */
  readonly namespaces: readonly string[];
  /** True: matches callers that did not arrive over verified mTLS (and only those). */
  readonly unauthenticated: boolean;
}

/** One request condition; its set fields must all hold. */
export interface AuthorizationTargetConfig {
  /** Destination ports (the app port the connection was headed to); empty: any. */
  readonly ports: readonly number[];
  /** Path matches (exact, or element-wise prefix as in the Gateway API), on the path as forwarded; empty: any. */
  readonly paths: readonly { readonly type: 'exact' | 'prefix'; readonly value: string }[];
  /** Upper-case methods; empty: any. */
  readonly methods: readonly string[];
}
