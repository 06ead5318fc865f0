// Default values of the edge policies, used when a policy is configured without some of its fields; documented in docs/ingress.md.

// Gateway API's HTTPCORSFilter default maxAge.
export const DEFAULT_CORS_MAX_AGE_SECONDS = 5;
export const DEFAULT_JWT_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
// A minute, as Envoy's jwt_authn and most libraries allow.
export const DEFAULT_JWT_CLOCK_SKEW_SECONDS = 60;
export const DEFAULT_JWKS_REFRESH_INTERVAL_MS = 300_000;
export const DEFAULT_JWKS_FETCH_TIMEOUT_MS = 2_000;
export const DEFAULT_JWKS_RETRY_INTERVAL_MS = 5_000;
export const DEFAULT_JWKS_UNKNOWN_KEY_COOLDOWN_MS = 30_000;
/** A JWKS document (fetched or inline) larger than this, or with more keys, is refused. */
export const MAX_JWKS_BYTES = 65_536;
export const MAX_JWKS_KEYS = 64;
export const DEFAULT_EXT_AUTHZ_TIMEOUT_MS = 200;
export const DEFAULT_EXT_AUTHZ_INCLUDE_HEADERS: readonly string[] = ['authorization', 'cookie', 'x-forwarded-for', 'x-forwarded-proto', 'x-request-id'];
export const DEFAULT_EXT_AUTHZ_MAX_RESPONSE_BYTES = 65_536;
