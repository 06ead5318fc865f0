// An HTTPRoute rule's `retry` and `timeouts` (Gateway API GEP-1731 and GEP-1742) as the proxy's retry layer (the one
// TrafficPolicy retries use) and route timeout.
import type { HTTPRouteRule } from '../../api/crd/gateway-api.ts';
import type { RetryPolicyConfig, RetryOn } from '../../api/config/policy-config.ts';
import { parseGoDuration } from '../../api/crd/go-duration.ts';
import { parseRetryPolicy, type PolicyProblem } from '../../api/config/parse-policy-config.ts';

/** The most retries a route may ask for (the proxy's limit); a larger `attempts` is served as this many. */
export const MAX_ROUTE_RETRIES = 10;
const MAX_MS = 86_400_000;

/**
 * What a Gateway API retry stanza retries besides its `codes`: connection errors (refused, reset, closed before an
 * answer), as the API asks of every implementation (HTTPRouteRetryConnectionError), and a try that outlived
 * `timeouts.backendRequest` (HTTPRouteRetryBackendTimeout: the proxy's per-try timeout counts as a reset).
 */
const GATEWAY_RETRY_ON: readonly RetryOn[] = ['connect-failure', 'reset', 'refused-stream'];

export interface RuleTiming {
  /** The whole request's deadline (ms; 0: none). */
  readonly timeoutMs: number;
  readonly retries: RetryPolicyConfig | null;
}

/**
 * Without `retry`, `timeouts.request` (or else `backendRequest`: one try is the whole request) bounds the request.
 * With it, `backendRequest` bounds each try and `request` all of them with their backoff; `attempts` is the number of
 * retries after the first try (unset: the proxy's default, 2); `codes` the answers worth another try (unset: none, only
 * connection errors and per-try timeouts); `backoff` the least wait before any retry (later ones wait longer, with
 * jitter, up to ten times it). Any method is retried, as the route asked for it (Envoy's rule, not TrafficPolicy's default).
 */
export function ruleTiming(rule: Pick<HTTPRouteRule, 'timeouts' | 'retry'>): RuleTiming {
  const request = parseGoDuration(rule.timeouts?.request ?? '');
  const backendRequest = parseGoDuration(rule.timeouts?.backendRequest ?? '');
  const retry = rule.retry;
  if (retry === undefined || retry === null) return { timeoutMs: Math.min(MAX_MS, request ?? backendRequest ?? 0), retries: null };
  const timeoutMs = Math.min(MAX_MS, request ?? 0);
  // Zero is "no timeout" for both; a try never outlives the request.
  const perTry = Math.min(MAX_MS, backendRequest ?? 0);
  const backoff = parseGoDuration(retry.backoff ?? '');
  const problems: PolicyProblem[] = [];
  const retries = parseRetryPolicy(
    {
      ...(retry.attempts !== undefined ? { attempts: Math.min(MAX_ROUTE_RETRIES, Math.max(0, retry.attempts)) } : {}),
      perTryTimeoutMs: timeoutMs > 0 && perTry > timeoutMs ? timeoutMs : perTry,
      retryOn: GATEWAY_RETRY_ON,
      retriableStatusCodes: [...new Set((retry.codes ?? []).filter((c) => Number.isInteger(c) && c >= 100 && c <= 599))],
      retryNonIdempotent: true,
      ...(backoff !== null && backoff > 0
        ? { backoff: { baseIntervalMs: Math.min(MAX_MS, backoff), maxIntervalMs: Math.min(MAX_MS, 10 * backoff), minIntervalMs: Math.min(MAX_MS, backoff) } }
        : {}),
    },
    'retry',
    problems,
  );
  // Every input above is in range by construction; a problem here would be a bug, and the route then keeps no retries.
  return { timeoutMs, retries: problems.length === 0 ? retries : null };
}
