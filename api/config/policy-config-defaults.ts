// Default values of the traffic policies, used when a policy is configured without some of its fields; documented in docs/proxy-config.md.
import type {
  CircuitBreakerConfig,
  OutlierDetectionConfig,
  RetryBackoffConfig,
  RetryBudgetConfig,
  RetryOn,
} from './policy-config.ts';

// Istio's defaults for a route with retries: 2 retries on connect-failure, refused-stream, unavailable, cancelled and 503.
export const DEFAULT_RETRY_ATTEMPTS = 2;
export const DEFAULT_RETRY_ON: readonly RetryOn[] = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled'];
export const DEFAULT_RETRIABLE_STATUS_CODES: readonly number[] = [503];
// Envoy's: 25 ms base, ten times that at most.
export const DEFAULT_RETRY_BACKOFF: RetryBackoffConfig = { baseIntervalMs: 25, maxIntervalMs: 250 };
// Linkerd's: 20 % more requests, at least 10 retries a second, over 10 s.
export const DEFAULT_RETRY_BUDGET: RetryBudgetConfig = { retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 };
export const DEFAULT_RETRY_BUFFER_BYTES = 65_536;

// Envoy's thresholds for connections, pending and requests. Envoy's 3 active retries starves retries under any load
// (Istio raises it to unlimited), so active retries default to the same 1024.
export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerConfig = {
  maxConnections: 1024,
  maxPendingRequests: 1024,
  pendingTimeoutMs: 1_000,
  maxRequests: 1024,
  maxActiveRetries: 1024,
};

// Istio's (and Envoy's): 5 consecutive 5xx, gateway errors off, 10 s interval, 30 s base ejection, 10 % of endpoints.
export const DEFAULT_OUTLIER_DETECTION: OutlierDetectionConfig = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 10,
};

export const DEFAULT_MIRROR_PERCENT = 100;
export const DEFAULT_MIRROR_BODY_BYTES = 65_536;
