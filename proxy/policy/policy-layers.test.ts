// Unit tests of the policy layers driven with fake inner services, fake timers and seeded random (no sockets).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseRetryPolicy } from '../../api/config/parse-policy-config.ts';
import { DEFAULT_OUTLIER_DETECTION } from '../../api/config/policy-config-defaults.ts';
import { EndpointState } from '../balance/endpoint-state.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { BodySink } from '../http1/server-connection.ts';
import type { PolicyDeps } from '../stack/policy-slot.ts';
import { ProxyRequest, type DownstreamInfo } from '../stack/proxy-request.ts';
import { ProxyResponse, type ResponseBody, type ResponseSink } from '../stack/proxy-response.ts';
import { RequestBody, type BodySource } from '../stack/request-body.ts';
import type { Service } from '../stack/service.ts';
import { UpstreamAttempt } from '../stack/upstream-attempt.ts';
import type { ProxyMetrics } from '../telemetry/proxy-metrics.ts';
import type { EndpointHandle } from '../upstream/upstream-cluster.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { circuitBreakerLayer } from './circuit-breaker-layer.ts';
import { FaultDecision } from './fault-decision.ts';
import { faultInjectionLayer } from './fault-injection.ts';
import { localRateLimitLayer } from './local-rate-limit.ts';
import { requestMirrorLayer } from './request-mirror.ts';
import { retryLayer, type RetryCounters } from './retry.ts';
import { RetryBudget } from './retry-budget.ts';
import { RetryPolicy } from './retry-policy.ts';
import { TokenBucket } from './token-bucket.ts';
import { formatGrpcTimeout, streamIdleLayer } from './timeout.ts';
import { OutlierDetector } from './outlier-detector.ts';
import { outlierLayer } from './outlier-layer.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const downstream: DownstreamInfo = { listener: 'l', direction: 'outbound', clientAddress: '127.0.0.1', clientPort: 1, tls: false, sni: null, peerIdentity: null, originalDst: null };

class Source implements BodySource {
  complete = true;
  readonly bytes: Buffer;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }
  attachBody(_sink: BodySink): Buffer | null {
    return this.bytes;
  }
  resume(): void {}
}

function request(method = 'GET', body: Buffer | null = null, headers: Record<string, string> = {}): ProxyRequest {
  const b = body === null ? null : new RequestBody(new Source(body), body.length);
  return new ProxyRequest(method, 'svc', '/', { ...headers }, b, downstream, false, performance.now());
}

class FakeBody implements ResponseBody {
  cancelled = false;
  start(sink: ResponseSink): void {
    sink.end(null);
  }
  resume(): void {}
  cancel(): void {
    this.cancelled = true;
  }
}

let now = 0;
const deps = (random = seeded(1)): PolicyDeps => ({ now: () => now, random, metrics: {} as ProxyMetrics, clusterService: () => null });
const counters = (): RetryCounters => ({ retries: 0, budgetExhausted: 0, bodyTooLarge: 0, breakerOverflow: 0 });

/** An upstream answering the given statuses in turn (then 200), recording what each try saw. */
function upstream(statuses: (number | ProxyError)[]) {
  const seen: { attempt: string; body: string | null }[] = [];
  const bodies: FakeBody[] = [];
  const svc: Service = async (req) => {
    let got: string | null = null;
    if (req.body !== null) got = req.body.open({ data: () => true, end: () => {}, error: () => {} })?.toString() ?? '';
    seen.push({ attempt: req.countsAttempts ? String(req.attempt) : 'not counted', body: got });
    const s = statuses.shift() ?? 200;
    if (s instanceof ProxyError) throw s;
    const body = new FakeBody();
    bodies.push(body);
    return new ProxyResponse(s, {}, body);
  };
  return { svc, seen, bodies };
}

function retrying(inner: Service, over: object = {}, c = counters()): Service {
  const cfg = parseRetryPolicy({ retryOn: ['5xx'], ...over }, 'r', [])!;
  return retryLayer(new RetryPolicy(cfg), new RetryBudget(cfg.budget, now), deps(), () => null, c)(inner);
}

describe('retry layer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    now = 0;
  });
  afterEach(() => vi.useRealTimers());

  it('retries a 503 and a reset, numbering the tries, cancelling the dropped answers, replaying the body', async () => {
    const up = upstream([503, new ProxyError(ERRORS.upstreamReset)]);
    const p = retrying(up.svc, { retryNonIdempotent: true })(request('POST', Buffer.alloc(10 * 1024, 'x')));
    await vi.runAllTimersAsync();
    const res = await p;
    expect(res.status).toBe(200);
    expect(up.seen.map((s) => s.attempt)).toEqual(['1', '2', '3']);
    expect(up.seen.every((s) => s.body!.length === 10 * 1024)).toBe(true);
    expect(up.bodies[0]!.cancelled).toBe(true);
    expect(up.bodies[1]!.cancelled).toBe(false);
  });

  it('does not retry a body larger than the buffer (1 MiB), nor POST unless allowed, nor beyond attempts', async () => {
    const c = counters();
    const big = upstream([503]);
    const r1 = retrying(big.svc, { retryNonIdempotent: true }, c)(request('POST', Buffer.alloc(1 << 20)));
    await vi.runAllTimersAsync();
    expect((await r1).status).toBe(503);
    expect(big.seen.length).toBe(1);
    expect(c.bodyTooLarge).toBe(1);
    const post = upstream([503]);
    const r2 = retrying(post.svc)(request('POST', Buffer.from('x')));
    await vi.runAllTimersAsync();
    expect((await r2).status).toBe(503);
    expect(post.seen.length).toBe(1);
    const many = upstream([503, 503, 503, 503]);
    const r3 = retrying(many.svc, { attempts: 2 })(request());
    await vi.runAllTimersAsync();
    expect((await r3).status).toBe(503);
    expect(many.seen.length).toBe(3);
  });

  it('stays within the budget under 100 % failure', async () => {
    const c = counters();
    const svc: Service = async () => new ProxyResponse(503, {}, null);
    let tries = 0;
    const counting: Service = (req) => {
      tries++;
      return svc(req);
    };
    const s2 = retrying(counting, { attempts: 3, budget: { retryRatio: 0.2, minRetriesPerSecond: 1, ttlMs: 10_000 } }, c);
    for (let i = 0; i < 200; i++) {
      const p = s2(request());
      await vi.runAllTimersAsync();
      await p;
    }
    // 200 requests; retries at most 10 (reserve) + 0.2 x 200.
    expect(tries - 200).toBeLessThanOrEqual(50);
    expect(tries - 200).toBeGreaterThanOrEqual(49);
    expect(c.budgetExhausted).toBeGreaterThan(0);
  });

  it('a try cut by the per-try deadline is retried; the deadline and grpc-timeout are per try', async () => {
    const deadlines: number[] = [];
    const timeouts: string[] = [];
    let first = true;
    const svc: Service = async (req) => {
      deadlines.push(req.deadline);
      timeouts.push(String(req.headers['grpc-timeout']));
      if (first) {
        first = false;
        throw new ProxyError(ERRORS.timeout); // what the client stage answers when req.deadline passes
      }
      return new ProxyResponse(200, {}, null);
    };
    const req = request('GET', null, { 'content-type': 'application/grpc' });
    (req as { grpc: boolean }).grpc = true;
    req.deadline = 1000;
    const p = retrying(svc, { perTryTimeoutMs: 100, retryOn: ['reset'] })(req);
    await vi.runAllTimersAsync();
    expect((await p).status).toBe(200);
    expect(deadlines).toEqual([100, 100]);
    expect(timeouts).toEqual(['100m', '100m']);
    expect(req.deadline).toBe(1000);
    // Without per-try the request's own timeout is final, not retried.
    const once: Service = async () => {
      throw new ProxyError(ERRORS.timeout);
    };
    const p2 = retrying(once, { perTryTimeoutMs: 0, retryOn: ['reset'] })(request()).catch((e: ProxyError) => e);
    await vi.runAllTimersAsync();
    expect(((await p2) as ProxyError).spec).toBe(ERRORS.timeout);
  });

  it('gRPC: retries UNAVAILABLE from trailers after an empty body, and hands out a real answer intact', async () => {
    const answers = [
      { trailers: { 'grpc-status': '14' }, data: null },
      { trailers: { 'grpc-status': '0' }, data: 'msg' },
    ];
    let tries = 0;
    const svc: Service = async () => {
      const a = answers[tries++]!;
      const body: ResponseBody = {
        start: (sink) => {
          if (a.data !== null) sink.data(Buffer.from(a.data));
          sink.end(a.trailers);
        },
        resume: () => {},
        cancel: () => {},
      };
      return new ProxyResponse(200, { 'content-type': 'application/grpc' }, body);
    };
    const req = request('POST', null, { 'content-type': 'application/grpc' });
    (req as { grpc: boolean }).grpc = true;
    const p = retrying(svc, { retryOn: ['unavailable'] })(req);
    await vi.runAllTimersAsync();
    const res = await p;
    expect(tries).toBe(2);
    const got: { data: string; trailers: unknown } = { data: '', trailers: null };
    res.body!.start({ data: (c) => ((got.data += c.toString()), true), end: (t) => (got.trailers = t), error: () => {} });
    expect(got).toEqual({ data: 'msg', trailers: { 'grpc-status': '0' } });
  });

  it('formats grpc-timeout within 8 digits', () => {
    expect(formatGrpcTimeout(0.2)).toBe('1m');
    expect(formatGrpcTimeout(99_999_999)).toBe('99999999m');
    expect(formatGrpcTimeout(100_000_000)).toBe('100000S');
  });
});

describe('circuit breaker layer', () => {
  afterEach(() => vi.useRealTimers());

  it('frees the slot when the attempt throws before it returns a promise', async () => {
    const b = new CircuitBreaker({ maxConnections: 1, maxPendingRequests: 0, pendingTimeoutMs: 1000, maxRequests: 1, maxActiveRetries: 1 });
    const s = circuitBreakerLayer(b)(() => {
      throw new ProxyError(ERRORS.internal);
    });
    for (let i = 0; i < 2; i++) expect(await s(request()).catch((e: ProxyError) => e.spec)).toBe(ERRORS.internal);
    expect(b.active).toBe(0);
  });

  it("refuses pending requests beyond the limit at once, and the attempt frees the slot when its body ends or is cancelled", async () => {
    vi.useFakeTimers();
    const breaker = new CircuitBreaker({ maxConnections: 10, maxPendingRequests: 1, pendingTimeoutMs: 1000, maxRequests: 1, maxActiveRetries: 1 });
    const up = playedUpstream();
    const s = circuitBreakerLayer(breaker)(up.svc);
    const a = s(request());
    const b = s(request());
    const c = await s(request()).catch((e: ProxyError) => e);
    expect((c as ProxyError).spec).toBe(ERRORS.circuitMaxPending);
    expect(up.attempts).toHaveLength(1);
    up.attempts[0]!.answer();
    const ra = await a;
    expect(breaker.active).toBe(1); // the slot is still held until the body ends...
    ra.body!.start(recorder().sink);
    up.attempts[0]!.complete();
    // ...then goes to the waiting request.
    await vi.advanceTimersByTimeAsync(0);
    expect(breaker.pending).toBe(0);
    expect(up.attempts).toHaveLength(2);
    up.attempts[1]!.answer();
    (await b).body!.cancel();
    expect(breaker.active).toBe(0);
    // A failed attempt gives its slot back too.
    const d = s(request());
    up.attempts[2]!.failWith(new ProxyError(ERRORS.upstreamReset));
    expect(await d.catch((e: ProxyError) => e.spec)).toBe(ERRORS.upstreamReset);
    expect(breaker.active).toBe(0);
  });
});

describe('rate limit, fault and mirror layers', () => {
  afterEach(() => vi.useRealTimers());

  it('answers 429 with retry-after beyond the bucket', async () => {
    now = 0;
    const ok: Service = async () => new ProxyResponse(200, {}, null);
    const s = localRateLimitLayer(new TokenBucket({ requestsPerSecond: 0.5, burst: 1 }, now), () => now)(ok);
    expect((await s(request())).status).toBe(200);
    const e = (await s(request()).catch((x: ProxyError) => x)) as ProxyError;
    expect(e.spec).toBe(ERRORS.rateLimited);
    expect(e.headers).toEqual({ 'retry-after': '2' });
  });

  it('aborts 20 % of 2000 requests within +/-3 points, and only with the header when one is named', async () => {
    const ok: Service = async () => new ProxyResponse(200, {}, null);
    const f = new FaultDecision({ delay: null, abort: { httpStatus: 503, grpcStatus: 14, percent: 20 }, header: null });
    const s = faultInjectionLayer(f, deps(seeded(9)))(ok);
    let aborted = 0;
    for (let i = 0; i < 2000; i++) await s(request()).catch(() => aborted++);
    expect(Math.abs(aborted / 2000 - 0.2)).toBeLessThan(0.03);
    const h = faultInjectionLayer(new FaultDecision({ delay: null, abort: { httpStatus: 500, grpcStatus: 2, percent: 100 }, header: 'x-chaos' }), deps())(ok);
    expect((await h(request())).status).toBe(200);
    expect(await h(request('GET', null, { 'x-chaos': '1' })).catch((e: ProxyError) => e.spec.status)).toBe(500);
  });

  it('costs nothing on the requests a fault does not apply to: the inner service\'s own promise comes back', () => {
    const p = Promise.resolve(new ProxyResponse(200, {}, null));
    const h = faultInjectionLayer(new FaultDecision({ delay: null, abort: { httpStatus: 500, grpcStatus: 2, percent: 100 }, header: 'x-chaos' }), deps())(() => p);
    expect(h(request())).toBe(p);
  });

  it('mirrors a request body up to its bound (the same bytes), and skips a larger one', async () => {
    const sink: BodySink = { data: () => true, end: () => {}, error: () => {} };
    const copies: string[] = [];
    const shadow: Service = async (req) => {
      copies.push(`${req.method} ${req.body?.length} ${req.body?.open(sink)?.toString() ?? ''}`);
      return new ProxyResponse(200, {}, null);
    };
    const primary: Service = async (req) => {
      req.body?.open(sink); // the primary reads the whole body before it answers
      return new ProxyResponse(201, {}, null);
    };
    const c = { sent: 0, skippedBody: 0, failed: 0 };
    const s = requestMirrorLayer({ cluster: 'shadow', percent: 100, maxBodyBytes: 16 }, shadow, deps(), c)(primary);
    expect((await s(request('POST', Buffer.from('hello body')))).status).toBe(201);
    expect((await s(request('POST', Buffer.from('x'.repeat(17))))).status).toBe(201);
    await new Promise((r) => setImmediate(r));
    expect(copies).toEqual(['POST 10 hello body']);
    expect(c).toEqual({ sent: 1, skippedBody: 1, failed: 0 });
  });

  it('a hung mirror neither delays nor changes the primary answer', async () => {
    vi.useFakeTimers();
    const copies: ProxyRequest[] = [];
    const hung: Service = (req) => {
      copies.push(req);
      return new Promise(() => {});
    };
    const c = { sent: 0, skippedBody: 0, failed: 0 };
    const s = requestMirrorLayer({ cluster: 'shadow', percent: 100, maxBodyBytes: 65536 }, hung, deps(), c)(async () => new ProxyResponse(201, {}, null));
    for (let i = 0; i < 10; i++) expect((await s(request('GET', null, { 'x-a': String(i) }))).status).toBe(201);
    await vi.advanceTimersByTimeAsync(0);
    expect(copies.length).toBe(10);
    expect(copies[3]!.authority).toBe('svc-shadow');
    expect(copies[3]!.headers['x-a']).toBe('3');
    expect(c.sent).toBe(10);
  });
});

/** A real upstream attempt (its deadline, stream idle timeout and result reporting) whose upstream the test plays. */
class PlayedAttempt extends UpstreamAttempt {
  upstreamAborted = false;
  protected abortUpstream(): void {
    this.upstreamAborted = true;
  }
  resume(): void {}
  answer(status = 200): void {
    this.headArrived();
    this.resolve(new ProxyResponse(status, {}, this));
  }
  chunk(): void {
    this.deliver(Buffer.from('x'));
  }
  complete(): void {
    this.finish(null);
  }
  failWith(e: ProxyError): void {
    this.fail(e);
  }
}

function playedUpstream(ep: EndpointState = new EndpointState({ address: '10.0.0.1', port: 80, weight: 1 })) {
  const attempts: PlayedAttempt[] = [];
  const endpoint = { state: ep } as EndpointHandle;
  const svc: Service = (req) => {
    const a = new PlayedAttempt(req, endpoint);
    attempts.push(a);
    return a.promise;
  };
  return { svc, attempts };
}

/** What a started response body received. */
function recorder() {
  const got = { data: 0, ended: false, error: null as ProxyError | null };
  const sink: ResponseSink = { data: () => (got.data++, true), end: () => void (got.ended = true), error: (e) => void (got.error = e) };
  return { got, sink };
}

describe('stream idle timeout (through the upstream attempt)', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(async () => {
    // Let the attempts' shared deadline queue fire once with nothing in it, so that no test inherits its armed timer.
    await vi.runOnlyPendingTimersAsync();
    vi.useRealTimers();
  });

  it('cuts a response the idle time after its last byte, not one that keeps moving, and cancels the upstream', async () => {
    const up = playedUpstream();
    const p = streamIdleLayer(100)(up.svc)(request());
    const a = up.attempts[0]!;
    a.answer();
    const { got, sink } = recorder();
    (await p).body!.start(sink);
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(90);
      a.chunk();
    }
    await vi.advanceTimersByTimeAsync(99);
    expect(got.error).toBeNull();
    expect(a.upstreamAborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(got.error!.spec).toBe(ERRORS.streamIdleTimeout);
    expect(a.upstreamAborted).toBe(true);
    expect(got.data).toBe(5);
  });

  it('does not time the wait for the head; the request deadline still cuts a moving body, as a timeout', async () => {
    const up = playedUpstream();
    const idle = streamIdleLayer(100)(up.svc);
    const slow = idle(request());
    await vi.advanceTimersByTimeAsync(350);
    up.attempts[0]!.answer();
    const first = recorder();
    (await slow).body!.start(first.sink);
    await vi.advanceTimersByTimeAsync(99);
    expect(first.got.error).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(first.got.error!.spec).toBe(ERRORS.streamIdleTimeout);

    const req = request();
    req.deadline = performance.now() + 250;
    const p = idle(req);
    const a = up.attempts[1]!;
    a.answer();
    const second = recorder();
    (await p).body!.start(second.sink);
    for (let i = 0; i < 3; i++) {
      await vi.advanceTimersByTimeAsync(80);
      a.chunk();
    }
    await vi.advanceTimersByTimeAsync(10);
    expect(second.got.error!.spec).toBe(ERRORS.timeout);
    expect(a.upstreamAborted).toBe(true);
  });

  it('watches a body held before it is started (the retry layer peeking for a gRPC status)', async () => {
    const up = playedUpstream();
    const p = streamIdleLayer(100)(up.svc)(request());
    const a = up.attempts[0]!;
    a.answer();
    a.chunk();
    await vi.advanceTimersByTimeAsync(100);
    expect(a.upstreamAborted).toBe(true);
    const { got, sink } = recorder();
    (await p).body!.start(sink);
    expect(got.data).toBe(1);
    expect(got.error!.spec).toBe(ERRORS.streamIdleTimeout);
  });

  it('times each try on its own (inside the retry layer), and leaves nothing queued once the bodies end', async () => {
    now = 0;
    const up = playedUpstream();
    const cfg = parseRetryPolicy({ retryOn: ['5xx'], backoff: { baseIntervalMs: 10, maxIntervalMs: 10 } }, 'r', [])!;
    const s = retryLayer(new RetryPolicy(cfg), new RetryBudget(cfg.budget, now), deps(), () => null, counters())(streamIdleLayer(100)(up.svc));
    const p = s(request());
    up.attempts[0]!.answer(503);
    await vi.advanceTimersByTimeAsync(90);
    expect(up.attempts[0]!.upstreamAborted).toBe(true);
    const a = up.attempts[1]!;
    a.answer();
    const { got, sink } = recorder();
    (await p).body!.start(sink);
    await vi.advanceTimersByTimeAsync(99);
    expect(got.error).toBeNull();
    a.complete();
    expect(got.ended).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got.error).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('outlier observation (through the upstream attempt)', () => {
  it("reports each attempt's answer or own failure, not a client going away, to the detector", async () => {
    now = 0;
    const ep = new EndpointState({ address: '10.0.0.1', port: 80, weight: 1 }, () => now);
    const other = new EndpointState({ address: '10.0.0.2', port: 80, weight: 1 }, () => now);
    const detector = new OutlierDetector({ ...DEFAULT_OUTLIER_DETECTION, consecutive5xxErrors: 3, maxEjectionPercent: 50 }, () => now, () => {});
    const up = playedUpstream(ep);
    const s = outlierLayer(detector, () => [ep, other])(up.svc);
    const outcomes: Promise<unknown>[] = [];
    const next = (): PlayedAttempt => {
      outcomes.push(s(request()).catch((e: unknown) => e));
      return up.attempts.at(-1)!;
    };
    next().answer(500);
    next().failWith(new ProxyError(ERRORS.clientCancelled));
    next().failWith(new ProxyError(ERRORS.connectFailed));
    expect(ep.ejectedUntil).toBe(0);
    next().answer(503);
    expect(ep.ejectedUntil).toBe(DEFAULT_OUTLIER_DETECTION.baseEjectionTimeMs);
    expect(detector.ejectionsTotal).toBe(1);
    await Promise.all(outcomes);
  });
});

describe('SkeinPolicyLayers', () => {
  it('keeps a route bucket across config versions (an edit does not hand out a fresh burst)', async () => {
    const { SkeinPolicyLayers } = await import('./policy-layers.ts');
    const { Registry } = await import('prom-client');
    const layers = new SkeinPolicyLayers();
    const d: PolicyDeps = { ...deps(), metrics: { registry: new Registry() } as unknown as ProxyMetrics };
    const routeCfg = { name: 'r', rateLimit: { requestsPerSecond: 1, burst: 1 }, retries: null, fault: null, mirrors: [], streamIdleTimeoutMs: 0 };
    const target = { listener: { name: 'l', rateLimit: null }, route: { config: routeCfg } } as never;
    const ok: Service = async () => new ProxyResponse(200, {}, null);
    const v1 = layers.route(target, d).reduceRight((s, l) => l(s), ok);
    expect((await v1(request())).status).toBe(200);
    // Version 2 of the config: same route, same limit, new objects.
    const target2 = { listener: { name: 'l', rateLimit: null }, route: { config: { ...routeCfg, rateLimit: { requestsPerSecond: 1, burst: 1 } } } } as never;
    const v2 = layers.route(target2, d).reduceRight((s, l) => l(s), ok);
    expect(((await v2(request()).catch((e: ProxyError) => e)) as ProxyError).spec).toBe(ERRORS.rateLimited);
  });
});
