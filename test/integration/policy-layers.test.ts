// The policy layers end to end: real clients (HTTP/1.1, HTTP/2, gRPC) -> proxy -> real upstreams on loopback port 0.
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { clientFor, type ClientResponse } from '../support/clients.ts';
import { startTestProxy, type TestProxy } from '../support/proxy-fixture.ts';
import { loadEchoService } from '../support/upstreams.ts';

// Both servers' request/response types share the calls used here; typed as HTTP/1's for brevity.
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

interface TestUpstream {
  readonly port: number;
  count: number;
  readonly attempts: string[];
  close(): Promise<void>;
}

/** An HTTP/1.1 or h2c upstream numbering the requests it sees (n from 0) and recording x-skein-attempt-count. */
async function upstream(protocol: 'h1' | 'h2', handler: Handler): Promise<TestUpstream> {
  const u = { port: 0, count: 0, attempts: [] as string[], close: async () => {} };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const n = u.count++;
    u.attempts.push(String(req.headers['x-skein-attempt-count']));
    handler(req, res, n);
  };
  const server = protocol === 'h1' ? http.createServer(onRequest) : http2.createServer(onRequest as unknown as (q: http2.Http2ServerRequest, s: http2.Http2ServerResponse) => void);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  u.port = (server.address() as AddressInfo).port;
  u.close = () =>
    new Promise<void>((r) => {
      (server as http.Server).closeAllConnections?.();
      server.close(() => r());
      if (protocol === 'h2') setImmediate(r);
    });
  return u;
}

/** Reads the body, then answers. */
function answer(status: number, body = 'ok'): Handler {
  return (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    });
  };
}

/** 30 % of what it sees fails with 503, spread evenly (never two in a row): request n fails when floor(0.3(n+1)) > floor(0.3n). */
const thirtyPercent: Handler = (req, res, n) => answer(Math.floor(0.3 * (n + 1)) > Math.floor(0.3 * n) ? 503 : 200)(req, res, n);

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function proxyFor(routes: Record<string, unknown>[], clusters: Record<string, unknown>[]): Promise<TestProxy> {
  const p = await startTestProxy({ routes, clusters });
  open.push(p);
  return p;
}

const cluster = (name: string, protocol: 'h1' | 'h2', ports: number[], extra: object = {}): Record<string, unknown> => ({
  name,
  protocol: protocol === 'h1' ? 'http1' : 'http2',
  loadBalancer: { policy: 'round-robin' },
  endpoints: ports.map((port) => ({ address: '127.0.0.1', port })),
  ...extra,
});
const route = (extra: object = {}, clusterName = 'up'): Record<string, unknown> => ({ name: 'r', backends: [{ cluster: clusterName }], ...extra });

const pairs = [
  ['h1', 'h1'],
  ['h1', 'h2'],
  ['h2', 'h1'],
  ['h2', 'h2'],
] as const;

describe.each(pairs)('retries: client %s -> upstream %s', (down, up) => {
  it('an upstream failing 30 % with 503 is seen with >= 99.5 % success under 2 retries (3 tries)', async () => {
    const u = await upstream(up, thirtyPercent);
    open.push(u);
    const p = await proxyFor([route({ retries: { attempts: 2, budget: { retryRatio: 1 } } })], [cluster('up', up, [u.port])]);
    const c = clientFor(down, p.port);
    open.push(c);
    let ok = 0;
    // Every other request claims a try number of its own: the upstream must see the proxy's, and only that one.
    for (let i = 0; i < 300; i++) if ((await c.request('/', i % 2 === 1 ? { headers: { 'x-skein-attempt-count': '7' } } : {})).status === 200) ok++;
    expect(ok / 300).toBeGreaterThanOrEqual(0.995);
    expect(u.count).toBeGreaterThan(300 * 1.3); // the failures happened, and were retried
    // Each request's first try says 1, each retry 2 (the failures never come twice in a row).
    expect(u.attempts.filter((a) => a === '1')).toHaveLength(300);
    expect(u.attempts.filter((a) => a === '2')).toHaveLength(u.count - 300);
  });

  it('under 100 % failure, retries stay within the budget', async () => {
    const u = await upstream(up, answer(503));
    open.push(u);
    const p = await proxyFor([route({ retries: { attempts: 3, budget: { retryRatio: 0.2, minRetriesPerSecond: 1, ttlMs: 10_000 }, backoff: { baseIntervalMs: 1 } } })], [cluster('up', up, [u.port])]);
    const c = clientFor(down, p.port);
    open.push(c);
    for (let i = 0; i < 100; i++) expect((await c.request('/')).status).toBe(503);
    // 100 first tries; retries at most 0.2 x 100 + 1/s x 10 s.
    expect(u.count - 100).toBeLessThanOrEqual(30);
    expect(u.count - 100).toBeGreaterThanOrEqual(20);
    const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/skein_policy_events_total\{target="route:r",event="retry_budget_exhausted"\} [1-9]/);
    expect(metrics).toMatch(new RegExp(`skein_policy_events_total\\{target="route:r",event="retry"\\} ${u.count - 100}\n`));
  });

  it('a 10 KiB POST is retried (body replayed) and a 1 MiB one is not', async () => {
    const sizes: number[] = [];
    const u = await upstream(up, (req, res, n) => {
      let size = 0;
      req.on('data', (c: Buffer) => (size += c.length));
      req.on('end', () => {
        sizes.push(size);
        res.writeHead(n % 2 === 0 ? 503 : 200);
        res.end();
      });
    });
    open.push(u);
    const p = await proxyFor([route({ retries: { attempts: 2, retryNonIdempotent: true } })], [cluster('up', up, [u.port])]);
    const c = clientFor(down, p.port);
    open.push(c);
    expect((await c.request('/', { method: 'POST', body: Buffer.alloc(10 * 1024, 1) })).status).toBe(200);
    expect(sizes).toEqual([10 * 1024, 10 * 1024]);
    expect((await c.request('/', { method: 'POST', body: Buffer.alloc(1 << 20, 2) })).status).toBe(503);
    expect(sizes).toEqual([10 * 1024, 10 * 1024, 1 << 20]);
  });

  it('nothing is retried once response bytes reached the client', async () => {
    const u = await upstream(up, (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      const h2 = res as unknown as http2.Http2ServerResponse;
      setTimeout(() => (h2.stream ? h2.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR) : res.destroy()), 20);
    });
    open.push(u);
    const p = await proxyFor([route({ retries: { attempts: 3, retryOn: ['5xx', 'reset'] } })], [cluster('up', up, [u.port])]);
    const c = clientFor(down, p.port);
    open.push(c);
    const r = await c.request('/').catch((e: Error) => e);
    expect(r instanceof Error || (r as ClientResponse).status === 200).toBe(true);
    expect(u.count).toBe(1);
  });

  it('a hung first try is cut by the per-try timeout and the second endpoint answers', async () => {
    const hung = await upstream(up, (req) => req.resume());
    const good = await upstream(up, answer(200, 'second'));
    open.push(hung, good);
    const p = await proxyFor([route({ retries: { attempts: 1, perTryTimeoutMs: 200, retryOn: ['reset'] } })], [cluster('up', up, [hung.port, good.port])]);
    const c = clientFor(down, p.port);
    open.push(c);
    // Round robin: the first request goes to the hung endpoint first.
    const r = await c.request('/');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('second');
    expect(hung.count).toBe(1);
  });
});

describe('cluster policies over HTTP/1.1', () => {
  it('1 bad endpoint of 3 is ejected and returns after the ejection time', async () => {
    let bad = true;
    const eps = [await upstream('h1', answer(200)), await upstream('h1', (q, s, n) => answer(bad ? 503 : 200)(q, s, n)), await upstream('h1', answer(200))];
    open.push(...eps);
    const p = await proxyFor(
      [route()],
      [cluster('up', 'h1', eps.map((e) => e.port), { outlierDetection: { consecutive5xxErrors: 3, intervalMs: 100, baseEjectionTimeMs: 300, maxEjectionPercent: 34 } })],
    );
    const c = clientFor('h1', p.port);
    open.push(c);
    for (let i = 0; i < 9; i++) await c.request('/');
    expect(eps[1]!.count).toBe(3);
    const ejectedAt = performance.now();
    let during = 0;
    for (let i = 0; i < 30 && performance.now() - ejectedAt < 250; i++) during += (await c.request('/')).status === 200 ? 1 : 0;
    expect(eps[1]!.count).toBe(3); // not picked while ejected
    expect(during).toBeGreaterThan(0);
    bad = false;
    // Back after its ejection time: polled, bounded in count and time.
    for (let i = 0; i < 200 && eps[1]!.count === 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
      await c.request('/');
    }
    expect(eps[1]!.count).toBeGreaterThan(3);
    expect(performance.now() - ejectedAt).toBeGreaterThanOrEqual(250);
    const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
    expect(metrics).toContain('skein_policy_events_total{target="cluster:up",event="outlier_ejection"} 1\n');
  });

  it('pending requests beyond the limit get an immediate 503 naming the cause', async () => {
    const held: (() => void)[] = [];
    const u = await upstream('h1', (req, res) => {
      req.resume();
      held.push(() => res.end('late'));
    });
    open.push(u);
    const p = await proxyFor([route()], [cluster('up', 'h1', [u.port], { circuitBreaker: { maxRequests: 1, maxPendingRequests: 1, pendingTimeoutMs: 10_000 } })]);
    const c = clientFor('h1', p.port);
    open.push(c);
    const first = c.request('/');
    const second = c.request('/');
    for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    const third = await c.request('/');
    const quick = performance.now() - t0;
    expect(third.status).toBe(503);
    expect(third.headers['x-skein-error']).toBe('max-pending');
    held.shift()!();
    expect((await first).status).toBe(200);
    for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    held.shift()!();
    expect((await second).status).toBe(200);
    // The refusal did not wait for the held request (which took at least this test's polling).
    expect(quick).toBeLessThan(1000);
  });
});

describe('route policies over HTTP/2', () => {
  it('a rate limit of 50/s answers 429 with retry-after for the excess, within +/-10 %', async () => {
    const u = await upstream('h1', answer(200));
    open.push(u);
    const p = await proxyFor([route({ rateLimit: { requestsPerSecond: 50, burst: 5 } })], [cluster('up', 'h1', [u.port])]);
    const c = clientFor('h2', p.port);
    open.push(c);
    const t0 = performance.now();
    let allowed = 0;
    let limited = 0;
    let retryAfter: unknown;
    let lastSent = t0;
    while (performance.now() - t0 < 1000 && allowed + limited < 5000) {
      lastSent = performance.now();
      const r = await c.request('/');
      if (r.status === 200) allowed++;
      else if (r.status === 429) {
        limited++;
        retryAfter = r.headers['retry-after'];
      }
    }
    // The proxy decided each request somewhere between its send and its answer: the bucket's refill is bounded by the
    // time to the last send (at least) and to the last answer (at most), each within 10 %; a loaded machine only widens
    // the window, it cannot make a wrong limiter pass.
    const atLeast = 5 + 50 * ((lastSent - t0) / 1000);
    const atMost = 5 + 50 * ((performance.now() - t0) / 1000);
    expect(allowed).toBeGreaterThanOrEqual(Math.floor(atLeast * 0.9) - 1);
    expect(allowed).toBeLessThanOrEqual(Math.ceil(atMost * 1.1) + 1);
    expect(limited).toBeGreaterThan(0);
    expect(retryAfter).toBe('1');
  });

  it('a 20 % abort lands within +/-3 points over 2000 requests', async () => {
    const u = await upstream('h2', answer(200));
    open.push(u);
    const p = await proxyFor([route({ fault: { abort: { httpStatus: 503, percent: 20 } } })], [cluster('up', 'h2', [u.port])]);
    const c = clientFor('h2', p.port);
    open.push(c);
    let aborted = 0;
    for (let i = 0; i < 2000; i++) {
      const r = await c.request('/');
      if (r.status === 503 && r.headers['x-skein-error'] === 'fault-abort') aborted++;
    }
    expect(Math.abs(aborted / 2000 - 0.2)).toBeLessThanOrEqual(0.03);
    expect(u.count).toBe(2000 - aborted);
  });

  it('a mirror receives copies, and the primary never waits on a mirror that does not answer', async () => {
    const primary = await upstream('h1', answer(200, 'primary'));
    const shadowBodies: string[] = [];
    const shadow = await upstream('h1', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        shadowBodies.push(`${req.method} ${Buffer.concat(chunks).toString()}`);
        res.end('shadow');
      });
    });
    // The hung mirror never answers; it counts the copies it holds and those the proxy gave up on.
    let cut = 0;
    const hung = await upstream('h1', (req, res) => {
      req.resume();
      res.on('close', () => cut++);
    });
    open.push(primary, shadow, hung);
    const p = await proxyFor(
      [
        route({ name: 'copy', match: { path: { type: 'prefix', value: '/copy' } }, mirrors: [{ cluster: 'shadow' }] }),
        route({ name: 'hung', match: { path: { type: 'prefix', value: '/hung' } }, mirrors: [{ cluster: 'hung' }] }),
        route({ name: 'plain' }),
      ],
      [cluster('up', 'h1', [primary.port]), cluster('shadow', 'h1', [shadow.port]), cluster('hung', 'h1', [hung.port])],
    );
    const c = clientFor('h2', p.port);
    open.push(c);
    for (let i = 0; i < 20; i++) expect((await c.request('/copy')).body.toString()).toBe('primary');
    // A request body is copied too (up to the mirror's bound, 64 KiB by default).
    expect((await c.request('/copy', { method: 'POST', body: Buffer.from('a body to copy') })).body.toString()).toBe('primary');
    for (let i = 0; i < 100 && shadow.count < 21; i++) await new Promise((r) => setTimeout(r, 5));
    expect(shadow.count).toBe(21);
    expect(shadowBodies.filter((b) => b.startsWith('POST'))).toEqual(['POST a body to copy']);
    // Each primary answer arrives while every copy sent to the hung mirror is still held open: a primary that waited on its
    // mirror could only answer once the mirror's deadline had cut the copy (cut > 0), or never.
    for (let i = 0; i < 20; i++) {
      expect((await c.request('/hung')).body.toString()).toBe('primary');
      expect(cut).toBe(0);
    }
    for (let i = 0; i < 200 && hung.count < 20; i++) await new Promise((r) => setTimeout(r, 5));
    expect(hung.count).toBe(20);
    expect(cut).toBe(0);
    expect(primary.count).toBe(41);
  });
});

describe('gRPC', () => {
  it('retries UNAVAILABLE answers and maps a fault abort to its gRPC status', async () => {
    const pkg = loadEchoService() as any;
    let n = 0;
    const server = new grpc.Server();
    server.addService(pkg.skein.test.Echo.service, {
      Unary: (call: any, cb: any) => {
        const fail = Math.floor(0.3 * (n + 1)) > Math.floor(0.3 * n);
        n++;
        if (fail) cb({ code: grpc.status.UNAVAILABLE, details: 'try again' });
        else cb(null, { text: `echo:${call.request.text}`, count: call.request.count + 1 });
      },
    });
    const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    open.push({ close: () => new Promise<void>((r) => server.tryShutdown(() => r())) });
    const p = await proxyFor(
      [
        route({ name: 'chaos', match: { headers: [{ name: 'x-chaos', type: 'present' }] }, fault: { abort: { grpcStatus: 'RESOURCE_EXHAUSTED' } } }),
        route({ retries: { attempts: 2, budget: { retryRatio: 1 } } }),
      ],
      [cluster('up', 'h2', [port])],
    );
    const client = new pkg.skein.test.Echo(`127.0.0.1:${p.port}`, grpc.credentials.createInsecure());
    open.push({ close: () => client.close() });
    const call = (md?: grpc.Metadata) =>
      new Promise<{ code: number; text?: string }>((resolve) => client.Unary({ text: 'x', count: 1 }, md ?? new grpc.Metadata(), (e: grpc.ServiceError | null, m: any) => resolve(e ? { code: e.code } : { code: 0, text: m.text })));
    let ok = 0;
    for (let i = 0; i < 200; i++) if ((await call()).code === 0) ok++;
    expect(ok / 200).toBeGreaterThanOrEqual(0.995);
    expect(n).toBeGreaterThan(200 * 1.3);
    const md = new grpc.Metadata();
    md.set('x-chaos', '1');
    expect((await call(md)).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });
});
