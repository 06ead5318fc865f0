// Turns the (schema-valid) input form of the traffic policies into their resolved model, collecting every problem.
import { GRPC_STATUS_NAMES } from './policy-config-schema.ts';
import {
  DEFAULT_CIRCUIT_BREAKER,
  DEFAULT_MIRROR_BODY_BYTES,
  DEFAULT_MIRROR_PERCENT,
  DEFAULT_OUTLIER_DETECTION,
  DEFAULT_RETRIABLE_STATUS_CODES,
  DEFAULT_RETRY_ATTEMPTS,
  DEFAULT_RETRY_BACKOFF,
  DEFAULT_RETRY_BUDGET,
  DEFAULT_RETRY_BUFFER_BYTES,
  DEFAULT_RETRY_ON,
} from './policy-config-defaults.ts';
import type {
  CircuitBreakerConfig,
  FaultAbortConfig,
  FaultInjectionConfig,
  LocalRateLimitConfig,
  OutlierDetectionConfig,
  RequestMirrorConfig,
  RetryOn,
  RetryPolicyConfig,
  RoutePolicyConfig,
} from './policy-config.ts';

export interface PolicyProblem {
  readonly path: string;
  readonly message: string;
}

// The input has passed the JSON Schema: fields are of the right type when present, and may be missing.
type Opt = Readonly<Record<string, any>> | null | undefined;

/** gRPC's mapping of HTTP statuses to gRPC codes (grpc/doc/http-grpc-status-mapping.md), for an abort given only httpStatus. */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** And back, for an abort given only grpcStatus (the HTTP status sent to a plain HTTP client then). */
function httpStatusForGrpc(code: number): number {
  switch (code) {
    case 3:
    case 9:
    case 11:
      return 400;
    case 16:
      return 401;
    case 7:
      return 403;
    case 5:
    case 12:
      return 404;
    case 8:
      return 429;
    case 4:
      return 504;
    case 14:
      return 503;
    default:
      return 500;
  }
}

export function parseRetryPolicy(r: Opt, at: string, problems: PolicyProblem[]): RetryPolicyConfig | null {
  if (!r) return null;
  const backoff = {
    baseIntervalMs: r.backoff?.baseIntervalMs ?? DEFAULT_RETRY_BACKOFF.baseIntervalMs,
    maxIntervalMs: r.backoff?.maxIntervalMs ?? Math.max(DEFAULT_RETRY_BACKOFF.maxIntervalMs, 10 * (r.backoff?.baseIntervalMs ?? 0)),
    ...(r.backoff?.minIntervalMs ? { minIntervalMs: r.backoff.minIntervalMs } : {}),
  };
  if (backoff.maxIntervalMs < backoff.baseIntervalMs) {
    problems.push({ path: `${at}.backoff.maxIntervalMs`, message: `must be at least baseIntervalMs (${backoff.baseIntervalMs})` });
  }
  if ((backoff.minIntervalMs ?? 0) > backoff.maxIntervalMs) {
    problems.push({ path: `${at}.backoff.minIntervalMs`, message: `must not exceed maxIntervalMs (${backoff.maxIntervalMs})` });
  }
  return {
    attempts: r.attempts ?? DEFAULT_RETRY_ATTEMPTS,
    perTryTimeoutMs: r.perTryTimeoutMs ?? 0,
    retryOn: (r.retryOn as readonly RetryOn[] | undefined) ?? DEFAULT_RETRY_ON,
    retriableStatusCodes: (r.retriableStatusCodes as readonly number[] | undefined) ?? DEFAULT_RETRIABLE_STATUS_CODES,
    retryNonIdempotent: r.retryNonIdempotent ?? false,
    backoff,
    budget: {
      retryRatio: r.budget?.retryRatio ?? DEFAULT_RETRY_BUDGET.retryRatio,
      minRetriesPerSecond: r.budget?.minRetriesPerSecond ?? DEFAULT_RETRY_BUDGET.minRetriesPerSecond,
      ttlMs: r.budget?.ttlMs ?? DEFAULT_RETRY_BUDGET.ttlMs,
    },
    maxBufferedBodyBytes: r.maxBufferedBodyBytes ?? DEFAULT_RETRY_BUFFER_BYTES,
  };
}

export function parseLocalRateLimit(r: Opt): LocalRateLimitConfig | null {
  if (!r || r.requestsPerSecond == null) return null;
  return { requestsPerSecond: r.requestsPerSecond, burst: r.burst ?? Math.max(1, Math.ceil(r.requestsPerSecond)) };
}

export function parseFaultInjection(f: Opt, at: string, problems: PolicyProblem[]): FaultInjectionConfig | null {
  if (!f) return null;
  let abort: FaultAbortConfig | null = null;
  if (f.abort) {
    const a = f.abort;
    if (a.httpStatus == null && a.grpcStatus == null) {
      problems.push({ path: `${at}.abort`, message: 'needs httpStatus or grpcStatus' });
    } else {
      const grpc = a.grpcStatus == null ? grpcStatusForHttp(a.httpStatus!) : GRPC_STATUS_NAMES.indexOf(a.grpcStatus as (typeof GRPC_STATUS_NAMES)[number]);
      if (a.grpcStatus === 'OK') problems.push({ path: `${at}.abort.grpcStatus`, message: 'an abort cannot be OK' });
      abort = { httpStatus: a.httpStatus ?? httpStatusForGrpc(grpc), grpcStatus: grpc, percent: a.percent ?? 100 };
    }
  }
  const delay = f.delay ? { fixedDelayMs: f.delay.fixedDelayMs!, percent: f.delay.percent ?? 100 } : null;
  if (!f.abort && !f.delay) problems.push({ path: at, message: 'needs a delay or an abort' });
  return { delay, abort, header: f.header ? f.header.toLowerCase() : null };
}

export function parseMirrors(
  list: readonly Opt[] | null | undefined,
  at: string,
  clusterNames: ReadonlySet<string>,
  problems: PolicyProblem[],
): readonly RequestMirrorConfig[] {
  return (list ?? []).flatMap((m, i) => {
    if (!m) return [];
    if (!clusterNames.has(m.cluster!)) problems.push({ path: `${at}[${i}].cluster`, message: `unknown cluster "${m.cluster}"` });
    return [{ cluster: m.cluster!, percent: m.percent ?? DEFAULT_MIRROR_PERCENT, maxBodyBytes: m.maxBodyBytes ?? DEFAULT_MIRROR_BODY_BYTES }];
  });
}

/** The policy fields of one route (`at` is the route's path). */
export function parseRoutePolicies(
  r: Opt,
  at: string,
  clusterNames: ReadonlySet<string>,
  problems: PolicyProblem[],
): RoutePolicyConfig {
  if (!r) r = {};
  const retries = parseRetryPolicy(r.retries, `${at}.retries`, problems);
  if (retries && retries.perTryTimeoutMs > 0 && (r.timeoutMs ?? 0) > 0 && retries.perTryTimeoutMs > r.timeoutMs!) {
    problems.push({ path: `${at}.retries.perTryTimeoutMs`, message: `is longer than the route's timeoutMs (${r.timeoutMs})` });
  }
  return {
    retries,
    streamIdleTimeoutMs: r.streamIdleTimeoutMs ?? 0,
    rateLimit: parseLocalRateLimit(r.rateLimit),
    fault: parseFaultInjection(r.fault, `${at}.fault`, problems),
    mirrors: parseMirrors(r.mirrors, `${at}.mirrors`, clusterNames, problems),
    tracing: r.tracing ? { samplingPercent: r.tracing.samplingPercent ?? null } : null,
  };
}

export function parseCircuitBreaker(c: Opt): CircuitBreakerConfig | null {
  if (!c) return null;
  const d = DEFAULT_CIRCUIT_BREAKER;
  return {
    maxConnections: c.maxConnections ?? d.maxConnections,
    maxPendingRequests: c.maxPendingRequests ?? d.maxPendingRequests,
    pendingTimeoutMs: c.pendingTimeoutMs ?? d.pendingTimeoutMs,
    maxRequests: c.maxRequests ?? d.maxRequests,
    maxActiveRetries: c.maxActiveRetries ?? d.maxActiveRetries,
  };
}

export function parseOutlierDetection(o: Opt, at: string, problems: PolicyProblem[]): OutlierDetectionConfig | null {
  if (!o) return null;
  const d = DEFAULT_OUTLIER_DETECTION;
  const out: OutlierDetectionConfig = {
    consecutive5xxErrors: o.consecutive5xxErrors ?? d.consecutive5xxErrors,
    consecutiveGatewayErrors: o.consecutiveGatewayErrors ?? d.consecutiveGatewayErrors,
    intervalMs: o.intervalMs ?? d.intervalMs,
    baseEjectionTimeMs: o.baseEjectionTimeMs ?? d.baseEjectionTimeMs,
    maxEjectionTimeMs: o.maxEjectionTimeMs ?? Math.max(d.maxEjectionTimeMs, o.baseEjectionTimeMs ?? 0),
    maxEjectionPercent: o.maxEjectionPercent ?? d.maxEjectionPercent,
  };
  if (out.maxEjectionTimeMs < out.baseEjectionTimeMs) {
    problems.push({ path: `${at}.maxEjectionTimeMs`, message: `must be at least baseEjectionTimeMs (${out.baseEjectionTimeMs})` });
  }
  if (out.consecutive5xxErrors === 0 && out.consecutiveGatewayErrors === 0) {
    problems.push({ path: at, message: 'consecutive5xxErrors and consecutiveGatewayErrors are both 0: nothing would ever be ejected' });
  }
  return out;
}
