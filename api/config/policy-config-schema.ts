// JSON Schema fragments of the traffic policies (the input form), used by proxy-config-schema.ts.
import { RETRY_ON_VALUES } from './policy-config.ts';
import { routeTracingSchema } from './telemetry-config-schema.ts';

const ms = { type: 'integer', minimum: 0, maximum: 86_400_000 } as const;
const positiveMs = { type: 'integer', minimum: 1, maximum: 86_400_000 } as const;
const percent = { type: 'number', minimum: 0, maximum: 100 } as const;
const count = { type: 'integer', minimum: 0, maximum: 1_000_000 } as const;
const positiveCount = { type: 'integer', minimum: 1, maximum: 1_000_000 } as const;
const headerName = { type: 'string', minLength: 1, maxLength: 256, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" } as const;
const clusterName = { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]*$' } as const;

/** gRPC status names accepted by fault aborts (Istio writes them upper case). */
export const GRPC_STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

export const retryPolicySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    attempts: { type: 'integer', minimum: 0, maximum: 10 },
    perTryTimeoutMs: ms,
    retryOn: { type: 'array', items: { enum: RETRY_ON_VALUES }, uniqueItems: true },
    retriableStatusCodes: { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 }, uniqueItems: true, maxItems: 100 },
    retryNonIdempotent: { type: 'boolean' },
    backoff: {
      type: 'object',
      additionalProperties: false,
      properties: { baseIntervalMs: positiveMs, maxIntervalMs: positiveMs, minIntervalMs: ms },
    },
    budget: {
      type: 'object',
      additionalProperties: false,
      properties: {
        retryRatio: { type: 'number', minimum: 0, maximum: 1000 },
        minRetriesPerSecond: count,
        ttlMs: { type: 'integer', minimum: 1000, maximum: 60_000 },
      },
    },
    maxBufferedBodyBytes: { type: 'integer', minimum: 0, maximum: 16_777_216 },
  },
} as const;

export const localRateLimitSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['requestsPerSecond'],
  properties: {
    requestsPerSecond: { type: 'number', exclusiveMinimum: 0, maximum: 10_000_000 },
    burst: positiveCount,
  },
} as const;

export const faultInjectionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    delay: {
      type: 'object',
      additionalProperties: false,
      required: ['fixedDelayMs'],
      properties: { fixedDelayMs: positiveMs, percent },
    },
    abort: {
      type: 'object',
      additionalProperties: false,
      properties: {
        httpStatus: { type: 'integer', minimum: 200, maximum: 599 },
        grpcStatus: { enum: GRPC_STATUS_NAMES },
        percent,
      },
    },
    header: headerName,
  },
} as const;

export const requestMirrorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['cluster'],
  properties: {
    cluster: clusterName,
    percent,
    maxBodyBytes: { type: 'integer', minimum: 0, maximum: 16_777_216 },
  },
} as const;

/** The policy fields of a route, spread into the route's properties. */
export const routePolicyProperties = {
  retries: retryPolicySchema,
  streamIdleTimeoutMs: ms,
  rateLimit: localRateLimitSchema,
  fault: faultInjectionSchema,
  mirrors: { type: 'array', items: requestMirrorSchema, maxItems: 8 },
  tracing: routeTracingSchema,
} as const;

export const circuitBreakerSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxConnections: positiveCount,
    maxPendingRequests: count,
    pendingTimeoutMs: positiveMs,
    maxRequests: positiveCount,
    maxActiveRetries: count,
  },
} as const;

export const outlierDetectionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    consecutive5xxErrors: count,
    consecutiveGatewayErrors: count,
    intervalMs: positiveMs,
    baseEjectionTimeMs: positiveMs,
    maxEjectionTimeMs: positiveMs,
    maxEjectionPercent: percent,
  },
} as const;
