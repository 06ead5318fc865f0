import { describe, expect, it } from 'vitest';
import { DEFAULT_CIRCUIT_BREAKER, DEFAULT_OUTLIER_DETECTION, DEFAULT_RETRY_BUDGET } from './policy-config-defaults.ts';
import { parseProxyConfig } from './parse-proxy-config.ts';

const doc = (route: object, cluster: object = {}, listener: object = {}): unknown => ({
  listeners: [{ name: 'out', port: 15001, ...listener, virtualHosts: [{ name: 'v', routes: [{ name: 'r', backends: [{ cluster: 'c' }], ...route }] }] }],
  clusters: [{ name: 'c', endpoints: [{ address: '10.0.0.1', port: 80 }], ...cluster }, { name: 'shadow' }],
});

function parse(d: unknown) {
  const r = parseProxyConfig(d);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

describe('policy config', () => {
  it('configures nothing by default (no layer in the request path)', () => {
    const c = parse(doc({}));
    const route = c.listeners[0]!.virtualHosts[0]!.routes[0]!;
    expect(route.retries).toBeNull();
    expect(route.rateLimit).toBeNull();
    expect(route.fault).toBeNull();
    expect(route.mirrors).toEqual([]);
    expect(route.streamIdleTimeoutMs).toBe(0);
    expect(c.listeners[0]!.rateLimit).toBeNull();
    expect(c.clusters[0]!.circuitBreaker).toBeNull();
    expect(c.clusters[0]!.outlierDetection).toBeNull();
  });

  it('fills a policy given as {} with the documented defaults', () => {
    const c = parse(doc({ retries: {}, rateLimit: { requestsPerSecond: 2.5 }, mirrors: [{ cluster: 'shadow' }] }, { circuitBreaker: {}, outlierDetection: {} }, { rateLimit: { requestsPerSecond: 100, burst: 10 } }));
    const route = c.listeners[0]!.virtualHosts[0]!.routes[0]!;
    expect(route.retries).toEqual({
      attempts: 2,
      perTryTimeoutMs: 0,
      retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled'],
      retriableStatusCodes: [503],
      retryNonIdempotent: false,
      backoff: { baseIntervalMs: 25, maxIntervalMs: 250 },
      budget: DEFAULT_RETRY_BUDGET,
      maxBufferedBodyBytes: 65_536,
    });
    expect(route.rateLimit).toEqual({ requestsPerSecond: 2.5, burst: 3 });
    expect(route.mirrors).toEqual([{ cluster: 'shadow', percent: 100, maxBodyBytes: 65_536 }]);
    expect(c.listeners[0]!.rateLimit).toEqual({ requestsPerSecond: 100, burst: 10 });
    expect(c.clusters[0]!.circuitBreaker).toEqual(DEFAULT_CIRCUIT_BREAKER);
    expect(c.clusters[0]!.outlierDetection).toEqual(DEFAULT_OUTLIER_DETECTION);
  });

  it('derives the other status of a fault abort as gRPC does', () => {
    const http = parse(doc({ fault: { abort: { httpStatus: 503, percent: 20 }, header: 'X-Chaos' } })).listeners[0]!.virtualHosts[0]!.routes[0]!.fault;
    expect(http).toEqual({ delay: null, abort: { httpStatus: 503, grpcStatus: 14, percent: 20 }, header: 'x-chaos' });
    const grpc = parse(doc({ fault: { abort: { grpcStatus: 'RESOURCE_EXHAUSTED' }, delay: { fixedDelayMs: 5 } } })).listeners[0]!.virtualHosts[0]!.routes[0]!.fault;
    expect(grpc).toEqual({ delay: { fixedDelayMs: 5, percent: 100 }, abort: { httpStatus: 429, grpcStatus: 8, percent: 100 }, header: null });
  });

  it('returns every policy problem at once, with its path', () => {
    const r = parseProxyConfig(
      doc(
        {
          timeoutMs: 100,
          retries: { perTryTimeoutMs: 500, backoff: { baseIntervalMs: 100, maxIntervalMs: 50 }, retryOn: ['sometimes'] },
          fault: { abort: { percent: 5 } },
          mirrors: [{ cluster: 'nowhere' }],
        },
        { outlierDetection: { consecutive5xxErrors: 0 }, circuitBreaker: { maxRequests: 0 } },
      ),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    // The schema answers first: its problems come alone, as for every other field.
    expect(r.error.map((p) => p.path)).toEqual(
      expect.arrayContaining(['listeners[0].virtualHosts[0].routes[0].retries.retryOn[0]', 'clusters[0].circuitBreaker.maxRequests']),
    );
    const r2 = parseProxyConfig(
      doc(
        { timeoutMs: 100, retries: { perTryTimeoutMs: 500, backoff: { baseIntervalMs: 100, maxIntervalMs: 50 } }, fault: { abort: { percent: 5 } }, mirrors: [{ cluster: 'nowhere' }] },
        { outlierDetection: { consecutive5xxErrors: 0 } },
      ),
    );
    expect(r2.ok).toBe(false);
    if (r2.ok) return;
    const at = 'listeners[0].virtualHosts[0].routes[0]';
    expect(r2.error.map((p) => p.path).sort()).toEqual(
      [`${at}.retries.backoff.maxIntervalMs`, `${at}.retries.perTryTimeoutMs`, `${at}.fault.abort`, `${at}.mirrors[0].cluster`, 'clusters[0].outlierDetection'].sort(),
    );
  });
});
