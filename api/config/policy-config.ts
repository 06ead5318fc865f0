// The typed model of the proxy's traffic policies (retries, timeouts, circuit breaking, outlier detection, rate limits,
// faults, mirrors): what a TrafficPolicy compiles into. Fields are resolved (defaults applied); `null` means "not configured",
// and a policy that is not configured puts no layer in the request path.
//
// Names follow Istio's VirtualService / DestinationRule where they exist (attempts, perTryTimeout, retryOn,
// consecutive5xxErrors, baseEjectionTime, maxEjectionPercent, ...) and Linkerd's retry budget, so a user of either reads
// them without a dictionary. Durations are integer milliseconds, percentages 0-100 (fractions allowed).

import type { RouteTracingConfig } from './telemetry-config.ts';

/**
 * What makes a try retryable. HTTP: `5xx` (any 5xx response, and resets / connect failures), `gateway-error` (502, 503,
 * 504, and connect failures), `reset` (the upstream reset or closed before answering; also a per-try timeout),
 * `connect-failure`, `refused-stream` (HTTP/2 REFUSED_STREAM: the upstream never saw the request). gRPC: the status names.
 * `retriable-status-codes` is accepted as Istio writes it; retriableStatusCodes applies whether or not it is listed.
 */
export type RetryOn =
  | '5xx'
  | 'gateway-error'
  | 'reset'
  | 'connect-failure'
  | 'refused-stream'
  | 'retriable-status-codes'
  | 'cancelled'
  | 'deadline-exceeded'
  | 'internal'
  | 'resource-exhausted'
  | 'unavailable';

export const RETRY_ON_VALUES: readonly RetryOn[] = [
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'refused-stream',
  'retriable-status-codes',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
];

export interface RetryPolicyConfig {
  /** Retries after the first try (Istio's and Gateway API's `attempts`): a request is tried at most attempts + 1 times. */
  readonly attempts: number;
  /** Timeout of each try; 0 = none (the route's timeoutMs still bounds the whole request). */
  readonly perTryTimeoutMs: number;
  readonly retryOn: readonly RetryOn[];
  /** Responses with these statuses are retried too (Istio's `retriable-status-codes`). */
  readonly retriableStatusCodes: readonly number[];
  /** Retry methods that are not idempotent (POST, PATCH, CONNECT) too. Off: only GET, HEAD, OPTIONS, TRACE, PUT, DELETE. */
  readonly retryNonIdempotent: boolean;
  readonly backoff: RetryBackoffConfig;
  readonly budget: RetryBudgetConfig;
  /** Request bodies up to this size are kept to be replayed; a request with a larger body is not retried. */
  readonly maxBufferedBodyBytes: number;
}

/**
 * Exponential backoff with full jitter: before retry n, a random wait in [min, max(min, min(max, base * 2^(n-1)))).
 * `minIntervalMs` (absent: 0) is a floor no retry comes before (the Gateway API's `retry.backoff` is one).
 */
export interface RetryBackoffConfig {
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly minIntervalMs?: number;
}

/**
 * Linkerd's retry budget: over a sliding window of `ttlMs`, retries may add at most `retryRatio` of the requests, plus
 * `minRetriesPerSecond` so that a quiet route can still retry. It keeps a failing upstream from being hit with a retry storm.
 */
export interface RetryBudgetConfig {
  readonly retryRatio: number;
  readonly minRetriesPerSecond: number;
  readonly ttlMs: number;
}

/** Per cluster. Beyond a limit the request is answered at once with 503 (gRPC UNAVAILABLE) naming the limit. */
export interface CircuitBreakerConfig {
  /** Open connections to all endpoints of the cluster. */
  readonly maxConnections: number;
  /** Requests waiting for a slot (for maxRequests or a connection); more are refused at once. */
  readonly maxPendingRequests: number;
  /** How long a pending request waits for a slot before it is refused. */
  readonly pendingTimeoutMs: number;
  /** Requests in flight to the cluster. */
  readonly maxRequests: number;
  /** Retries in flight to the cluster; a retry beyond it is not made (the failed try's answer stands). */
  readonly maxActiveRetries: number;
}

/** Per cluster, per endpoint (Istio's DestinationRule outlierDetection). */
export interface OutlierDetectionConfig {
  /** Consecutive 5xx answers (and gateway errors) that eject an endpoint; 0 disables the check. */
  readonly consecutive5xxErrors: number;
  /** Consecutive 502/503/504 or connect failures / resets that eject an endpoint; 0 disables the check. */
  readonly consecutiveGatewayErrors: number;
  /** How often ejections are reviewed: ejected endpoints whose time is up return, and healthy ones' ejection count decays. */
  readonly intervalMs: number;
  /** Ejection time is baseEjectionTimeMs x the number of times the endpoint was ejected, up to maxEjectionTimeMs. */
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  /** At most this share of the cluster's endpoints is ejected at once (at least one endpoint can always be). */
  readonly maxEjectionPercent: number;
}

/** A token bucket: `requestsPerSecond` refill, up to `burst` tokens. Beyond it: 429 (gRPC RESOURCE_EXHAUSTED) with retry-after. */
export interface LocalRateLimitConfig {
  readonly requestsPerSecond: number;
  readonly burst: number;
}

/** Istio's HTTPFaultInjection: delay and/or abort a share of the requests, for chaos testing. */
export interface FaultInjectionConfig {
  readonly delay: FaultDelayConfig | null;
  readonly abort: FaultAbortConfig | null;
  /** When set, only requests carrying this header (lower case) are subject to the fault. */
  readonly header: string | null;
}

export interface FaultDelayConfig {
  readonly fixedDelayMs: number;
  readonly percent: number;
}

export interface FaultAbortConfig {
  /** HTTP status sent to plain HTTP clients. */
  readonly httpStatus: number;
  /** gRPC status code sent to gRPC clients (from `grpcStatus` as a name, or derived from httpStatus as gRPC does). */
  readonly grpcStatus: number;
  readonly percent: number;
}

/** A copy of a share of the route's requests to a shadow cluster; its answers are discarded. */
export interface RequestMirrorConfig {
  readonly cluster: string;
  readonly percent: number;
  /** Request bodies up to this size are mirrored; a request with a larger body is not. */
  readonly maxBodyBytes: number;
}

/** The policies of one route (the ListenerConfig / ClusterConfig ones live on those). */
export interface RoutePolicyConfig {
  readonly retries: RetryPolicyConfig | null;
  /** Cut the response when no body byte arrived from the upstream for this long; 0 = none. */
  readonly streamIdleTimeoutMs: number;
  readonly rateLimit: LocalRateLimitConfig | null;
  readonly fault: FaultInjectionConfig | null;
  readonly mirrors: readonly RequestMirrorConfig[];
  /** Trace sampling for this route (TrafficPolicy `tracing.samplingPercent`); absent or null: the mesh default. */
  readonly tracing?: RouteTracingConfig | null;
}
