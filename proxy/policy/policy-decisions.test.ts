// Simulation tests of the policy decisions: fake clocks and seeded random, no sockets, no sleeps.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseRetryPolicy } from '../../api/config/parse-policy-config.ts';
import { DEFAULT_OUTLIER_DETECTION } from '../../api/config/policy-config-defaults.ts';
import { EndpointState } from '../balance/endpoint-state.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { backoffMs } from './backoff.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { FaultDecision } from './fault-decision.ts';
import { OutlierDetector, type EjectionEvent } from './outlier-detector.ts';
import { RetryBudget } from './retry-budget.ts';
import { RetryPolicy } from './retry-policy.ts';
import { TokenBucket } from './token-bucket.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const retry = (over: object) => new RetryPolicy(parseRetryPolicy(over, 'r', [])!);

describe('retry decisions', () => {
  it('defaults retry 503, connect failures, refused streams, UNAVAILABLE and CANCELLED, not 500 or resets', () => {
    const p = retry({});
    expect(p.maxTries).toBe(3);
    expect(p.responseRetryable(503, undefined)).toBe(true);
    expect(p.responseRetryable(500, undefined)).toBe(false);
    expect(p.responseRetryable(200, '14')).toBe(true);
    expect(p.responseRetryable(200, '1')).toBe(true);
    expect(p.responseRetryable(200, '13')).toBe(false);
    expect(p.responseRetryable(200, undefined)).toBe(false);
    expect(p.errorRetryable(new ProxyError(ERRORS.connectFailed))).toBe(true);
    expect(p.errorRetryable(new ProxyError(ERRORS.upstreamReset, 'Stream closed with error code NGHTTP2_REFUSED_STREAM'))).toBe(true);
    expect(p.errorRetryable(new ProxyError(ERRORS.upstreamReset, 'ECONNRESET'))).toBe(false);
    expect(p.errorRetryable(new ProxyError(ERRORS.timeout))).toBe(false);
    expect(p.errorRetryable(new ProxyError(ERRORS.clientCancelled))).toBe(false);
  });

  it('5xx covers every 5xx, resets and per-try timeouts; gateway-error only 502-504; status lists add', () => {
    const five = retry({ retryOn: ['5xx'], retriableStatusCodes: [] });
    for (const s of [500, 502, 503, 504, 599]) expect(five.responseRetryable(s, undefined)).toBe(true);
    expect(five.responseRetryable(429, undefined)).toBe(false);
    expect(five.errorRetryable(new ProxyError(ERRORS.upstreamReset))).toBe(true);
    expect(five.errorRetryable(new ProxyError(ERRORS.perTryTimeout))).toBe(true);
    const gw = retry({ retryOn: ['gateway-error'], retriableStatusCodes: [429] });
    expect([500, 502, 503, 504, 429, 501].map((s) => gw.responseRetryable(s, undefined))).toEqual([false, true, true, true, true, false]);
    const istio = retry({ retryOn: ['retriable-status-codes'], retriableStatusCodes: [409] });
    expect([409, 503].map((s) => istio.responseRetryable(s, undefined))).toEqual([true, false]);
    const none = retry({ retryOn: [], retriableStatusCodes: [] });
    expect(none.responseRetryable(503, '14')).toBe(false);
    expect(none.errorRetryable(new ProxyError(ERRORS.connectFailed))).toBe(false);
  });

  it('retries only idempotent methods unless allowed', () => {
    const p = retry({});
    expect(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE', 'POST', 'PATCH'].map((m) => p.methodRetryable(m))).toEqual([true, true, true, true, true, true, false, false]);
    expect(retry({ retryNonIdempotent: true }).methodRetryable('POST')).toBe(true);
  });
});

describe('retry budget', () => {
  it('allows the reserve plus the ratio of requests within the window, and forgets old requests', () => {
    let now = 0;
    const b = new RetryBudget({ retryRatio: 0.2, minRetriesPerSecond: 1, ttlMs: 10_000 }, now);
    // 1000 requests, every one failing: retries stay within 10 (reserve) + 200 (ratio).
    let retries = 0;
    for (let i = 0; i < 1000; i++) {
      now += 5; // 5 s in all: inside the window
      b.deposit(now);
      if (b.tryWithdraw(now)) retries++;
    }
    expect(retries).toBe(210);
    expect(b.available(now)).toBe(0);
    // Once the window has passed, the old requests no longer pay for retries: only the reserve is left.
    now += 10_001;
    expect(b.available(now)).toBe(10);
    let late = 0;
    while (b.tryWithdraw(now)) late++;
    expect(late).toBe(10);
  });

  it('a quiet route still retries at the minimum rate', () => {
    const b = new RetryBudget({ retryRatio: 0, minRetriesPerSecond: 10, ttlMs: 10_000 }, 0);
    let n = 0;
    while (b.tryWithdraw(1) && n < 1000) n++;
    expect(n).toBe(100);
  });
});

describe('backoff', () => {
  it('grows exponentially with full jitter and is capped', () => {
    const cfg = { baseIntervalMs: 25, maxIntervalMs: 250 };
    expect([1, 2, 3, 4, 5, 30].map((n) => backoffMs(n, cfg, () => 0.999999))).toEqual([24, 49, 99, 199, 249, 249]);
    expect(backoffMs(3, cfg, () => 0)).toBe(0);
    const r = seeded(7);
    const waits = Array.from({ length: 1000 }, () => backoffMs(2, cfg, r));
    expect(Math.max(...waits)).toBeLessThan(50);
    const mean = waits.reduce((a, b) => a + b, 0) / waits.length;
    expect(mean).toBeGreaterThan(20);
    expect(mean).toBeLessThan(29);
  });

  it('never comes before a floor (the Gateway API retry.backoff), and grows above it', () => {
    const cfg = { baseIntervalMs: 100, maxIntervalMs: 1000, minIntervalMs: 100 };
    expect([1, 2, 3, 5, 9].map((n) => backoffMs(n, cfg, () => 0))).toEqual([100, 100, 100, 100, 100]);
    expect([1, 2, 3, 5, 9].map((n) => backoffMs(n, cfg, () => 0.999999))).toEqual([100, 199, 399, 999, 999]);
  });
});

describe('token bucket', () => {
  it('passes the burst, then the rate, and says when the next token comes', () => {
    let now = 1000;
    const b = new TokenBucket({ requestsPerSecond: 50, burst: 50 }, now);
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (b.take(now) === 0) allowed++;
    expect(allowed).toBe(50);
    expect(b.take(now)).toBe(20); // 1 token per 20 ms
    // 10 s at 200 attempts a second: 50 a second get through.
    allowed = 0;
    for (let i = 0; i < 2000; i++) {
      now += 5;
      if (b.take(now) === 0) allowed++;
    }
    expect(allowed).toBe(500);
  });

  it('does not store more than the burst while idle', () => {
    const b = new TokenBucket({ requestsPerSecond: 10, burst: 2 }, 0);
    const passed = [b.take(60_000), b.take(60_000), b.take(60_000)].map((w) => w === 0);
    expect(passed).toEqual([true, true, false]);
  });
});

describe('circuit breaker', () => {
  afterEach(() => vi.useRealTimers());

  it('admits maxRequests, queues maxPending, refuses the rest at once, hands slots to waiters in order', async () => {
    vi.useFakeTimers();
    const cb = new CircuitBreaker({ maxConnections: 1, maxPendingRequests: 2, pendingTimeoutMs: 100, maxRequests: 1, maxActiveRetries: 1 });
    expect(cb.enter()).toBeNull();
    const w1 = cb.enter() as Promise<ProxyError | null>;
    const w2 = cb.enter() as Promise<ProxyError | null>;
    expect(w1).toBeInstanceOf(Promise);
    const refused = cb.enter() as ProxyError;
    expect(refused.spec).toBe(ERRORS.circuitMaxPending);
    cb.release();
    expect(await w1).toBeNull();
    expect(cb.active).toBe(1);
    vi.advanceTimersByTime(100);
    expect(((await w2) as ProxyError).spec).toBe(ERRORS.pendingTimeout);
    cb.release();
    expect(cb.active).toBe(0);
    expect(cb.pending).toBe(0);
    expect(cb.tryStartRetry()).toBe(true);
    expect(cb.tryStartRetry()).toBe(false);
    cb.retryDone();
    expect(cb.tryStartRetry()).toBe(true);
    expect(cb.openConnection()).toBeNull();
    expect(cb.openConnection()!.spec).toBe(ERRORS.circuitMaxConnections);
    cb.connectionClosed();
    expect(cb.openConnection()).toBeNull();
  });
});

describe('outlier detector', () => {
  it('ejects after consecutive 5xx, returns after the ejection time, re-ejects on probation for longer, decays', () => {
    let now = 0;
    const eps = [0, 1, 2].map((i) => new EndpointState({ address: `10.0.0.${i}`, port: 80, weight: 1 }, () => now));
    const events: EjectionEvent[] = [];
    const od = new OutlierDetector({ ...DEFAULT_OUTLIER_DETECTION, consecutive5xxErrors: 3, intervalMs: 1000, baseEjectionTimeMs: 5000 }, () => now, (e) => events.push(e));
    const bad = eps[0]!;
    od.observe(bad, 'error-5xx', eps);
    od.observe(bad, 'error-5xx', eps);
    od.observe(bad, 'success', eps); // breaks the run
    od.observe(bad, 'error-5xx', eps);
    od.observe(bad, 'error-5xx', eps);
    expect(bad.ejectedUntil).toBe(0);
    od.observe(bad, 'gateway-error', eps);
    expect(bad.ejectedUntil).toBe(5000);
    expect(events).toEqual([{ endpoint: bad, reason: 'consecutive-5xx', durationMs: 5000, ejections: 1 }]);
    // Max ejection percent 10 % of 3: still one can be ejected, but not a second.
    for (let i = 0; i < 3; i++) od.observe(eps[1]!, 'error-5xx', eps);
    expect(eps[1]!.ejectedUntil).toBe(0);
    expect(od.ejectionsSkipped).toBe(1);
    // Back after 5 s, on probation: one failure ejects it again for twice as long.
    now = 5000;
    od.observe(bad, 'error-5xx', eps);
    expect(bad.ejectedUntil).toBe(15_000);
    // Back again, healthy this time: the multiplier decays one step per interval without failures.
    now = 15_000;
    od.observe(bad, 'success', eps);
    expect(od.ejectionsOf(bad)).toBe(2);
    for (let t = 16_000; t <= 18_000; t += 1000) {
      now = t;
      od.observe(eps[2]!, 'success', eps);
    }
    expect(od.ejectionsOf(bad)).toBe(0);
  });

  it('gateway errors and local failures count toward consecutiveGatewayErrors; a plain 500 does not', () => {
    const now = 0;
    const eps = [0, 1].map((i) => new EndpointState({ address: `10.0.0.${i}`, port: 80, weight: 1 }, () => now));
    const od = new OutlierDetector({ ...DEFAULT_OUTLIER_DETECTION, consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 50 }, () => now, () => {});
    od.observe(eps[0]!, 'error-5xx', eps);
    od.observe(eps[0]!, 'local-failure', eps);
    expect(eps[0]!.ejectedUntil).toBe(0);
    od.observe(eps[0]!, 'gateway-error', eps);
    expect(eps[0]!.ejectedUntil).toBe(30_000);
  });
});

describe('fault decision', () => {
  it('aborts and delays their percentages of requests (2000 requests, seeded, within +/-3 points)', () => {
    const f = new FaultDecision({ delay: { fixedDelayMs: 7, percent: 10 }, abort: { httpStatus: 503, grpcStatus: 14, percent: 20 }, header: null });
    const r = seeded(42);
    let aborted = 0;
    let delayed = 0;
    for (let i = 0; i < 2000; i++) {
      if (f.delayMs(r) === 7) delayed++;
      if (f.abort(r)) aborted++;
    }
    expect(Math.abs(aborted / 2000 - 0.2)).toBeLessThan(0.03);
    expect(Math.abs(delayed / 2000 - 0.1)).toBeLessThan(0.03);
    expect(f.abortError!.spec).toMatchObject({ status: 503, grpcStatus: 14, cause: 'fault-abort' });
  });

  it('applies only with the header when one is named', () => {
    const f = new FaultDecision({ delay: null, abort: { httpStatus: 500, grpcStatus: 2, percent: 100 }, header: 'x-chaos' });
    expect(f.applies({})).toBe(false);
    expect(f.applies({ 'x-chaos': '1' })).toBe(true);
    expect(f.delayMs(() => 0)).toBe(0);
    expect(f.abort(() => 0.99)).toBe(true);
  });
});
