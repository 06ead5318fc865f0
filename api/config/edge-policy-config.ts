// The typed model of the edge policies (IP filter, CORS, JWT authentication, external authorization) that an ingress
// listener (a Gateway) or a route carries. Fields are resolved (defaults applied); `null` means "not configured", and a
// policy that is not configured puts no layer in the request path. docs/ingress.md documents every field.

/**
 * The edge policies of a listener or a route. On a request, each kind comes from the route when the route sets it, else
 * from the listener (a route's policy replaces its listener's policy of the same kind, as Gateway API policy attachment
 * lets the more specific target win). Composed ip -> cors -> jwt -> ext authz -> rate limit -> ... (proxy/policy/policy-layers.ts).
 */
export interface EdgePolicyConfig {
  readonly ipFilter: IpFilterConfig | null;
  readonly cors: CorsConfig | null;
  readonly jwt: JwtAuthConfig | null;
  readonly extAuthz: ExtAuthzConfig | null;
}

export const NO_EDGE_POLICY: EdgePolicyConfig = { ipFilter: null, cors: null, jwt: null, extAuthz: null };

/**
 * Allow and deny lists of CIDRs (IPv4 and IPv6; a bare address is a /32 or /128) matched against the client address
 * (the listener's `xffTrustedHops` say how far into x-forwarded-for it is believed). A denied address, or one outside a
 * non-empty allow list, gets 403. Deny wins over allow.
 */
export interface IpFilterConfig {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/** Gateway API v1.5's HTTPRoute CORS filter (HTTPCORSFilter), field for field. */
export interface CorsConfig {
  /** `*`, or origins `scheme://host[:port]` whose host may start with `*.` (any subdomain). */
  readonly allowOrigins: readonly string[];
  /** Upper-case methods, or `*`. */
  readonly allowMethods: readonly string[];
  /** Lower-case header names, or `*`. */
  readonly allowHeaders: readonly string[];
  /** Lower-case header names, or `*`. */
  readonly exposeHeaders: readonly string[];
  /** Seconds a browser may cache a preflight answer (Access-Control-Max-Age). */
  readonly maxAge: number;
  readonly allowCredentials: boolean;
}

/**
 * Where the JSON Web Key Set comes from: given inline, or fetched from a URL and cached. The file form is the same
 * object with `type` optional (`keys` or `url` says which), so this resolved model is itself a valid input.
 */
export type JwksSourceConfig =
  | { readonly type: 'inline'; readonly keys: readonly Readonly<Record<string, unknown>>[] }
  | {
      readonly type: 'remote';
      readonly url: string;
      /** The keys are refetched in the background this long after the last good fetch. */
      readonly refreshIntervalMs: number;
      /** One fetch gives up after this long. */
      readonly fetchTimeoutMs: number;
      /** After a failed fetch, the next attempt waits this long (the last good keys keep serving meanwhile). */
      readonly retryIntervalMs: number;
      /** A token whose key id is unknown refetches the set at most this often. */
      readonly unknownKeyCooldownMs: number;
    };

export interface JwtClaimHeaderConfig {
  /** A claim name, or a dotted path into nested claims (`realm_access.roles`). */
  readonly claim: string;
  /** Lower-case request header the claim is copied to (any such header from the client is removed first). */
  readonly header: string;
}

export interface JwtAuthConfig {
  /** Required `iss`; null accepts any issuer. */
  readonly issuer: string | null;
  /** The token's `aud` must contain one of these; empty accepts any audience. */
  readonly audiences: readonly string[];
  readonly jwks: JwksSourceConfig;
  /** Signature algorithms accepted (never `none`). */
  readonly algorithms: readonly string[];
  /** Tolerance for `exp` and `nbf`, seconds. */
  readonly clockSkewSeconds: number;
  /** true: a request without a token gets 401. false: it passes unauthenticated (an invalid token still gets 401). */
  readonly required: boolean;
  readonly claimHeaders: readonly JwtClaimHeaderConfig[];
  /** Keep the Authorization header toward the upstream (false removes it once verified, as Envoy does by default). */
  readonly forwardToken: boolean;
}

export interface ExtAuthzConfig {
  /** Base URL of the authorization service (http:// or https://); the request's path is appended to its path. */
  readonly url: string;
  readonly timeoutMs: number;
  /** true: the request proceeds when the service cannot be asked (error, timeout); false: 503. */
  readonly failOpen: boolean;
  /** Lower-case request headers sent to the service (besides method and path). */
  readonly includeHeaders: readonly string[];
  /** Lower-case headers of an allowing answer that are set on the request upstream. */
  readonly upstreamHeaders: readonly string[];
  /** Answers larger than this are treated as a failure of the service. */
  readonly maxResponseBytes: number;
}
