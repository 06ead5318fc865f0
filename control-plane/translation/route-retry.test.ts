// An HTTPRoute rule's retry and timeouts as the proxy's retry policy and route timeout: the Gateway API's counting
// (attempts = retries), its codes, connection errors and per-try timeouts, the backoff floor, and the limits.
import { describe, expect, it } from 'vitest';
import { MAX_ROUTE_RETRIES, ruleTiming } from './route-retry.ts';

describe('HTTPRoute retry and timeouts', () => {
  it('without retry: the request timeout, else the backend request timeout, bounds the request; no retries', () => {
    expect(ruleTiming({})).toEqual({ timeoutMs: 0, retries: null });
    expect(ruleTiming({ timeouts: { request: '2s', backendRequest: '1s' } })).toEqual({ timeoutMs: 2000, retries: null });
    expect(ruleTiming({ timeouts: { backendRequest: '1s' } })).toEqual({ timeoutMs: 1000, retries: null });
  });

  it('attempts counts retries after the first try; codes are retried, other answers are not', () => {
    const t = ruleTiming({ retry: { codes: [500], attempts: 3 } });
    expect(t.timeoutMs).toBe(0);
    // The proxy's `attempts` counts retries too (a request is tried at most attempts + 1 times).
    expect(t.retries!.attempts).toBe(3);
    expect(t.retries!.retriableStatusCodes).toEqual([500]);
    // No 5xx or gateway-error class: only the codes listed.
    expect(t.retries!.retryOn).toEqual(['connect-failure', 'reset', 'refused-stream']);
    // Whatever the method: the route asked for retries.
    expect(t.retries!.retryNonIdempotent).toBe(true);
  });

  it('connection errors and a try that outlives backendRequest are retried (RetryConnectionError, RetryBackendTimeout)', () => {
    const t = ruleTiming({ retry: { attempts: 2 }, timeouts: { request: '10s', backendRequest: '500ms' } });
    expect(t.timeoutMs).toBe(10_000);
    expect(t.retries!.perTryTimeoutMs).toBe(500);
    expect(t.retries!.retriableStatusCodes).toEqual([]);
    // `reset` covers a reset, a close before the answer and a per-try timeout (proxy/policy/retry-policy.ts).
    expect(t.retries!.retryOn).toEqual(['connect-failure', 'reset', 'refused-stream']);
  });

  it('backoff is a floor no retry comes before; later retries may wait up to ten times it', () => {
    expect(ruleTiming({ retry: { attempts: 1, backoff: '100ms' } }).retries!.backoff).toEqual({ baseIntervalMs: 100, maxIntervalMs: 1000, minIntervalMs: 100 });
    expect(ruleTiming({ retry: { attempts: 1 } }).retries!.backoff).toEqual({ baseIntervalMs: 25, maxIntervalMs: 250 });
  });

  it('unset attempts: the proxy default (2); more than the proxy allows: its maximum', () => {
    expect(ruleTiming({ retry: { codes: [503] } }).retries!.attempts).toBe(2);
    expect(ruleTiming({ retry: { attempts: 50 } }).retries!.attempts).toBe(MAX_ROUTE_RETRIES);
  });
});
