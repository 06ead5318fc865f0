// The catalogue of data-plane failures: each has a stable code, the HTTP and gRPC answer, and a one-word cause for clients.
export interface ProxyErrorSpec {
  readonly code: string;
  /** HTTP status sent to plain HTTP clients. */
  readonly status: number;
  /** gRPC status sent (in an HTTP 200) to gRPC clients. */
  readonly grpcStatus: number;
  /** The value of the x-skein-error response header: one word, no internals. */
  readonly cause: string;
  /** Whether the downstream connection is closed after answering (HTTP/1; HTTP/2 resets only the stream). */
  readonly closeConnection: boolean;
  readonly message: string;
}

// gRPC status codes used below (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
export const GRPC = { OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

function spec(code: string, status: number, grpcStatus: number, cause: string, closeConnection: boolean, message: string): ProxyErrorSpec {
  return { code, status, grpcStatus, cause, closeConnection, message };
}

export const ERRORS = {
  badRequest: spec('SKEIN_ERR_BAD_REQUEST', 400, GRPC.INTERNAL, 'bad-request', true, 'malformed request'),
  misdirected: spec('SKEIN_ERR_MISDIRECTED', 421, GRPC.UNAVAILABLE, 'misdirected', false, 'request not for this host'),
  headersTimeout: spec('SKEIN_ERR_HEADERS_TIMEOUT', 408, GRPC.DEADLINE_EXCEEDED, 'timeout', true, 'request head not received in time'),
  methodNotAllowed: spec('SKEIN_ERR_METHOD_NOT_ALLOWED', 405, GRPC.UNIMPLEMENTED, 'bad-request', true, 'method not supported by the proxy'),
  expectationFailed: spec('SKEIN_ERR_EXPECTATION_FAILED', 417, GRPC.INVALID_ARGUMENT, 'expectation-failed', false, 'unsupported Expect'),
  forbidden: spec('SKEIN_ERR_FORBIDDEN', 403, GRPC.PERMISSION_DENIED, 'forbidden', false, 'request not authorized'),
  mtlsRequired: spec('SKEIN_ERR_MTLS_REQUIRED', 403, GRPC.PERMISSION_DENIED, 'mtls-required', true, 'this port accepts mutual TLS only'),
  clientCertificate: spec('SKEIN_ERR_CLIENT_CERTIFICATE', 403, GRPC.PERMISSION_DENIED, 'client-certificate', true, 'a valid client certificate is required'),
  peerIdentity: spec('SKEIN_ERR_PEER_IDENTITY', 503, GRPC.UNAVAILABLE, 'peer-identity', false, 'upstream identity is not the one expected'),
  upstreamTls: spec('SKEIN_ERR_UPSTREAM_TLS', 503, GRPC.UNAVAILABLE, 'upstream-tls', false, 'TLS handshake with the upstream failed'),
  noWorkloadCertificate: spec('SKEIN_ERR_NO_WORKLOAD_CERTIFICATE', 503, GRPC.UNAVAILABLE, 'no-workload-certificate', false, 'no workload certificate yet for mutual TLS'),
  headersTooLarge: spec('SKEIN_ERR_HEADERS_TOO_LARGE', 431, GRPC.RESOURCE_EXHAUSTED, 'headers-too-large', true, 'request headers too large'),
  noRoute: spec('SKEIN_ERR_NO_ROUTE', 404, GRPC.UNIMPLEMENTED, 'no-route', false, 'no route matches this request'),
  noEndpoints: spec('SKEIN_ERR_NO_ENDPOINTS', 503, GRPC.UNAVAILABLE, 'no-endpoints', false, 'no endpoints available'),
  connectFailed: spec('SKEIN_ERR_CONNECT_FAILED', 503, GRPC.UNAVAILABLE, 'connect-failed', false, 'upstream connection failed'),
  connectTimeout: spec('SKEIN_ERR_CONNECT_TIMEOUT', 503, GRPC.UNAVAILABLE, 'connect-timeout', false, 'upstream connect timed out'),
  upstreamReset: spec('SKEIN_ERR_UPSTREAM_RESET', 502, GRPC.UNAVAILABLE, 'upstream-reset', false, 'upstream reset the request'),
  upstreamProtocol: spec('SKEIN_ERR_UPSTREAM_PROTOCOL', 502, GRPC.INTERNAL, 'upstream-protocol', false, 'upstream sent an invalid response'),
  timeout: spec('SKEIN_ERR_TIMEOUT', 504, GRPC.DEADLINE_EXCEEDED, 'timeout', false, 'request timed out'),
  upgradeRejected: spec('SKEIN_ERR_UPGRADE_REJECTED', 502, GRPC.INTERNAL, 'upgrade-rejected', false, 'upstream did not accept the upgrade'),
  clientCancelled: spec('SKEIN_ERR_CLIENT_CANCELLED', 499, GRPC.CANCELLED, 'client-cancelled', true, 'client went away'),
  draining: spec('SKEIN_ERR_DRAINING', 503, GRPC.UNAVAILABLE, 'draining', true, 'proxy is shutting down'),
  circuitMaxConnections: spec('SKEIN_ERR_CIRCUIT_MAX_CONNECTIONS', 503, GRPC.UNAVAILABLE, 'max-connections', false, 'cluster connection limit reached'),
  circuitMaxPending: spec('SKEIN_ERR_CIRCUIT_MAX_PENDING', 503, GRPC.UNAVAILABLE, 'max-pending', false, 'cluster pending-request limit reached'),
  circuitMaxRequests: spec('SKEIN_ERR_CIRCUIT_MAX_REQUESTS', 503, GRPC.UNAVAILABLE, 'max-requests', false, 'cluster request limit reached'),
  pendingTimeout: spec('SKEIN_ERR_PENDING_TIMEOUT', 503, GRPC.UNAVAILABLE, 'pending-timeout', false, 'request waited too long for the cluster'),
  perTryTimeout: spec('SKEIN_ERR_PER_TRY_TIMEOUT', 504, GRPC.DEADLINE_EXCEEDED, 'per-try-timeout', false, 'upstream try timed out'),
  streamIdleTimeout: spec('SKEIN_ERR_STREAM_IDLE_TIMEOUT', 504, GRPC.DEADLINE_EXCEEDED, 'idle-timeout', false, 'request idle for too long'),
  rateLimited: spec('SKEIN_ERR_RATE_LIMITED', 429, GRPC.RESOURCE_EXHAUSTED, 'rate-limited', false, 'local rate limit exceeded'),
  faultAbort: spec('SKEIN_ERR_FAULT_ABORT', 503, GRPC.UNAVAILABLE, 'fault-abort', false, 'fault injected'),
  ipDenied: spec('SKEIN_ERR_IP_DENIED', 403, GRPC.PERMISSION_DENIED, 'ip-denied', false, 'client address not allowed'),
  jwtMissing: spec('SKEIN_ERR_JWT_MISSING', 401, GRPC.UNAUTHENTICATED, 'jwt-missing', false, 'a bearer token is required'),
  jwtInvalid: spec('SKEIN_ERR_JWT_INVALID', 401, GRPC.UNAUTHENTICATED, 'jwt-invalid', false, 'the bearer token is not valid'),
  jwtExpired: spec('SKEIN_ERR_JWT_EXPIRED', 401, GRPC.UNAUTHENTICATED, 'jwt-expired', false, 'the bearer token has expired'),
  jwksUnavailable: spec('SKEIN_ERR_JWKS_UNAVAILABLE', 503, GRPC.UNAVAILABLE, 'jwks-unavailable', false, 'the keys to verify the token are unavailable'),
  extAuthzDenied: spec('SKEIN_ERR_EXT_AUTHZ_DENIED', 403, GRPC.PERMISSION_DENIED, 'ext-authz-denied', false, 'denied by the authorization service'),
  extAuthzUnavailable: spec('SKEIN_ERR_EXT_AUTHZ_UNAVAILABLE', 503, GRPC.UNAVAILABLE, 'ext-authz-unavailable', false, 'the authorization service did not answer'),
  internal: spec('SKEIN_ERR_INTERNAL', 500, GRPC.INTERNAL, 'internal', true, 'internal proxy error'),
} as const satisfies Record<string, ProxyErrorSpec>;

/** A data-plane failure. Layers throw or reject with it; only the rescue layer turns it into a response. */
export class ProxyError extends Error {
  readonly spec: ProxyErrorSpec;
  /** Extra response headers of the answer (the rate limit's retry-after), or null. */
  readonly headers: Readonly<Record<string, string>> | null;
  constructor(spec: ProxyErrorSpec, detail?: string, options?: { cause?: unknown; headers?: Readonly<Record<string, string>> }) {
    super(detail ? `${spec.message}: ${detail}` : spec.message, options);
    this.name = 'ProxyError';
    this.spec = spec;
    this.headers = options?.headers ?? null;
  }
  get code(): string {
    return this.spec.code;
  }
}

/** Maps a socket / stream error from Node to the catalogue. */
export function classifyUpstreamError(e: unknown): ProxyError {
  if (e instanceof ProxyError) return e;
  let code = (e as NodeJS.ErrnoException | undefined)?.code ?? '';
  // HTTP/2 streams fail with ERR_HTTP2_STREAM_CANCEL when their session failed; the cause says why.
  const cause = (e as { cause?: unknown } | undefined)?.cause;
  if (code === 'ERR_HTTP2_STREAM_CANCEL' && cause !== undefined) return classifyUpstreamError(cause);
  if (code === '' && cause !== undefined) code = (cause as NodeJS.ErrnoException).code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ProxyError(ERRORS.connectFailed, code, { cause: e });
    case 'ETIMEDOUT':
      return new ProxyError(ERRORS.connectTimeout, code, { cause: e });
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
    case 'CERT_UNTRUSTED':
    case 'CERT_REJECTED':
    case 'INVALID_PURPOSE':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return new ProxyError(ERRORS.upstreamTls, code, { cause: e });
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_INVALID_STATUS':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_HEADER_OVERFLOW':
    case 'ERR_HTTP2_INVALID_HEADER_VALUE':
    case 'ERR_INVALID_HTTP_TOKEN':
    case 'ERR_INVALID_CHAR':
    case 'ERR_HTTP2_INVALID_INFO_STATUS':
    case 'ERR_HTTP2_STATUS_INVALID':
      return new ProxyError(ERRORS.upstreamProtocol, code, { cause: e });
    default:
      // Any other llhttp parse error is still the upstream speaking invalid HTTP, not a reset.
      if (code.startsWith('HPE_')) return new ProxyError(ERRORS.upstreamProtocol, code, { cause: e });
      // OpenSSL's own failures (alerts, version or cipher mismatch, a refused client certificate).
      if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return new ProxyError(ERRORS.upstreamTls, code, { cause: e });
      return new ProxyError(ERRORS.upstreamReset, code || undefined, { cause: e });
  }
}
