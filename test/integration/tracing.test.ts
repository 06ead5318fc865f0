// Traces through two real proxies (outbound -> inbound -> app) into an in-test OTLP/HTTP receiver: one span per hop and
// per attempt, correctly parented; gRPC status on the span; a collector that refuses or hangs costs spans, never requests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { testConfig } from '../support/proxy-fixture.ts';
import { loadEchoService, startGrpcUpstream } from '../support/upstreams.ts';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number>;
  service: string;
}

/** An OTLP/HTTP JSON receiver on loopback: collects every span it is sent. */
async function startCollector(): Promise<{ url: string; spans: Span[]; contentTypes: string[]; close(): Promise<void> }> {
  const spans: Span[] = [];
  const contentTypes: string[] = [];
  const value = (v: Record<string, unknown>): string | number => (v.stringValue as string) ?? Number(v.intValue ?? v.doubleValue ?? NaN);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      contentTypes.push(String(req.headers['content-type']));
      if (req.headers['content-type'] === 'application/x-protobuf') {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { resourceSpans: { resource: { attributes: { key: string; value: Record<string, unknown> }[] }; scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
      for (const rs of body.resourceSpans) {
        const service = String(value(rs.resource.attributes.find((a) => a.key === 'service.name')!.value));
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            const attributes: Record<string, string | number> = {};
            for (const a of s.attributes as { key: string; value: Record<string, unknown> }[]) attributes[a.key] = value(a.value);
            spans.push({ traceId: s.traceId as string, spanId: s.spanId as string, parentSpanId: (s.parentSpanId as string) || undefined, name: s.name as string, kind: s.kind as number, attributes, service });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    spans,
    contentTypes,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const tracing = (collector: string, extra: Record<string, unknown> = {}) => ({ collector, protocol: 'http/json', samplingPercent: 100, scheduledDelayMs: 20, ...extra });

/** A proxy with one HTTP listener whose single route goes to `cluster`. */
async function proxy(name: string, direction: 'inbound' | 'outbound', route: Record<string, unknown>, cluster: Record<string, unknown>, telemetry: Record<string, unknown>): Promise<RunningProxy> {
  return startProxy(
    testConfig({
      mode: 'sidecar',
      node: name,
      telemetry,
      listeners: [{ name: direction, address: '127.0.0.1', port: 0, direction, virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ backends: [{ cluster: cluster.name }], ...route }] }] }],
      clusters: [cluster],
    }),
  );
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('traces through two proxies', () => {
  it('one span per hop and per attempt, each parented on the span before it; the retried attempt is visible', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    let flaky = 0;
    const seenTraceparents: string[] = [];
    const app = http.createServer((req, res) => {
      seenTraceparents.push(String(req.headers.traceparent));
      if (req.url === '/flaky' && flaky++ === 0) return res.writeHead(503).end('try again');
      res.end('ok');
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (app.closeAllConnections(), app.close(() => r()))));
    const appPort = (app.address() as AddressInfo).port;

    const inbound = await proxy('api-pod', 'inbound', { name: 'inbound-app' }, { name: 'app', endpoints: [{ address: '127.0.0.1', port: appPort }] }, {
      workload: { workload: 'api', namespace: 'shop' },
      tracing: tracing(collector.url),
    });
    cleanups.push(() => inbound.close());
    const outbound = await proxy(
      'web-pod',
      'outbound',
      { name: 'to-api', retries: { attempts: 2, retriableStatusCodes: [503], budget: { retryRatio: 1 }, backoff: { baseIntervalMs: 1 } } },
      { name: 'api', endpoints: [{ address: '127.0.0.1', port: inbound.listeners.get('inbound')!.port }], destination: { workload: 'api', namespace: 'shop', service: 'api.shop' } },
      { workload: { workload: 'web', namespace: 'shop' }, tracing: tracing(collector.url) },
    );
    cleanups.push(() => outbound.close());

    // The app's caller sent a B3 single header: the trace continues it (its span is the root's parent).
    const callerTrace = '463ac35c9f6413ad48485a3953bb6124';
    const callerSpan = 'a2fb4a1d1a96d312';
    const r = await fetch(`http://127.0.0.1:${outbound.listeners.get('outbound')!.port}/flaky`, { headers: { b3: `${callerTrace}-${callerSpan}-1` } });
    expect(r.status).toBe(200);
    await r.text();
    await outbound.runtime.flushTelemetry();
    await inbound.runtime.flushTelemetry();

    const spans = collector.spans;
    expect(spans.every((s) => s.traceId === callerTrace)).toBe(true);
    const byService = (svc: string) => spans.filter((s) => s.service === svc);
    const [client] = byService('web.shop').filter((s) => s.name === 'outbound to-api');
    const attempts = byService('web.shop').filter((s) => s.name === 'attempt api');
    const servers = byService('api.shop').filter((s) => s.name === 'inbound inbound-app');
    const appAttempts = byService('api.shop').filter((s) => s.name === 'attempt app');
    expect(client).toBeDefined();
    expect(client!.kind).toBe(3); // OTLP SPAN_KIND_CLIENT
    expect(client!.parentSpanId).toBe(callerSpan);
    expect(client!.attributes['http.response.status_code']).toBe(200);
    expect(client!.attributes['skein.attempts']).toBe(2);
    expect(attempts.map((a) => a.attributes['http.request.resend_count']).sort()).toEqual([0, 1]);
    expect(attempts.map((a) => a.attributes['http.response.status_code']).sort()).toEqual([200, 503]);
    for (const a of attempts) {
      expect(a.parentSpanId).toBe(client!.spanId);
      expect(a.attributes['server.port']).toBe(inbound.listeners.get('inbound')!.port);
    }
    // Each try reached the inbound proxy as its own server span, a child of that try's attempt span.
    expect(servers).toHaveLength(2);
    for (const s of servers) expect(s.kind).toBe(2); // SPAN_KIND_SERVER
    expect(servers.map((s) => s.parentSpanId).sort()).toEqual(attempts.map((a) => a.spanId).sort());
    expect(appAttempts.map((a) => a.parentSpanId).sort()).toEqual(servers.map((s) => s.spanId).sort());
    // The app saw the context of the inbound proxy's attempt span, in W3C form.
    expect(seenTraceparents.sort()).toEqual(appAttempts.map((a) => `00-${callerTrace}-${a.spanId}-01`).sort());
    expect(spans).toHaveLength(1 + 2 + 2 + 2);
  });

  it('puts the gRPC status of a call failing with NOT_FOUND on its span', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    const up = await startGrpcUpstream();
    cleanups.push(() => up.close());
    const p = await proxy('web-pod', 'outbound', { name: 'echo' }, { name: 'echo', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: up.port }] }, { tracing: tracing(collector.url) });
    cleanups.push(() => p.close());
    const pkg = loadEchoService() as any;
    const client = new pkg.skein.test.Echo(`127.0.0.1:${p.listeners.get('outbound')!.port}`, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const err = await new Promise<grpc.ServiceError>((resolve) => client.Unary({ text: 'not-found', count: 0 }, (e: grpc.ServiceError) => resolve(e)));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    await p.runtime.flushTelemetry();
    const span = collector.spans.find((s) => s.name === 'outbound echo');
    expect(span?.attributes['rpc.grpc.status_code']).toBe(5);
    expect(span?.attributes['skein.grpc.status']).toBe('NOT_FOUND');
    expect(span?.attributes['http.response.status_code']).toBe(200);
  });

  it('samples new traces at the route\'s rate and honours an incoming decision', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    const app = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (app.closeAllConnections(), app.close(() => r()))));
    // Mesh default 100 %, the route says 0 %.
    const p = await proxy('web-pod', 'outbound', { name: 'quiet', tracing: { samplingPercent: 0 } }, { name: 'app', endpoints: [{ address: '127.0.0.1', port: (app.address() as AddressInfo).port }] }, { tracing: tracing(collector.url) });
    cleanups.push(() => p.close());
    const url = `http://127.0.0.1:${p.listeners.get('outbound')!.port}/`;
    for (let i = 0; i < 5; i++) await (await fetch(url)).text();
    await (await fetch(url, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } })).text();
    await p.runtime.flushTelemetry();
    expect(collector.spans.filter((s) => s.name === 'outbound quiet').map((s) => s.traceId)).toEqual(['0af7651916cd43dd8448eb211c80319c']);
  });

  it('passes a decision not to sample on through every hop, exporting nothing: a new trace\'s traceparent with the flag off, a caller\'s as it came', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    const seen: http.IncomingHttpHeaders[] = [];
    const app = http.createServer((req, res) => {
      seen.push(req.headers);
      res.end('ok');
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (app.closeAllConnections(), app.close(() => r()))));
    // The first hop samples no new trace; the second would sample every one: it must follow the first hop's decision.
    const inbound = await proxy('api-pod', 'inbound', { name: 'inbound-app' }, { name: 'app', endpoints: [{ address: '127.0.0.1', port: (app.address() as AddressInfo).port }] }, { tracing: tracing(collector.url) });
    cleanups.push(() => inbound.close());
    const outbound = await proxy('web-pod', 'outbound', { name: 'to-api' }, { name: 'api', endpoints: [{ address: '127.0.0.1', port: inbound.listeners.get('inbound')!.port }] }, { tracing: tracing(collector.url, { samplingPercent: 0 }) });
    cleanups.push(() => outbound.close());
    const url = `http://127.0.0.1:${outbound.listeners.get('outbound')!.port}/`;
    await (await fetch(url)).text();
    const callerContext = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00', tracestate: 'congo=t61rcWkgMzE' };
    await (await fetch(url, { headers: { ...callerContext, 'x-b3-traceid': '0af7651916cd43dd8448eb211c80319c', 'x-b3-spanid': 'b7ad6b7169203331' } })).text();
    await outbound.runtime.flushTelemetry();
    await inbound.runtime.flushTelemetry();
    expect(collector.spans).toEqual([]);
    const trace = (h: http.IncomingHttpHeaders) => Object.fromEntries(Object.entries(h).filter(([k]) => k === 'traceparent' || k === 'tracestate' || k.startsWith('x-b3-') || k === 'b3'));
    expect(seen).toHaveLength(2);
    expect(trace(seen[0]!)).toEqual({ traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/), b3: '0', 'x-b3-sampled': '0' });
    expect(trace(seen[1]!)).toEqual({ ...callerContext, b3: '0', 'x-b3-sampled': '0' });
  });

  it('exports OTLP protobuf by default', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    const app = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (app.closeAllConnections(), app.close(() => r()))));
    const p = await proxy('web-pod', 'outbound', { name: 'r' }, { name: 'app', endpoints: [{ address: '127.0.0.1', port: (app.address() as AddressInfo).port }] }, {
      tracing: { collector: collector.url, samplingPercent: 100 },
    });
    cleanups.push(() => p.close());
    await (await fetch(`http://127.0.0.1:${p.listeners.get('outbound')!.port}/`)).text();
    await p.runtime.flushTelemetry();
    expect(collector.contentTypes).toEqual(['application/x-protobuf']);
    const metrics = await (await fetch(`http://127.0.0.1:${p.admin.port}/metrics`)).text();
    expect(metrics).toMatch(/^skein_trace_spans_exported_total 2$/m);
  });

  it('is switched on by a live config change, attempt spans included, with the same routes', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    const app = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (app.closeAllConnections(), app.close(() => r()))));
    const doc = (telemetry: Record<string, unknown>) =>
      testConfig({
        mode: 'sidecar',
        version: JSON.stringify(telemetry),
        telemetry,
        listeners: [{ name: 'outbound', address: '127.0.0.1', port: 0, direction: 'outbound', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ name: 'r', backends: [{ cluster: 'app' }] }] }] }],
        clusters: [{ name: 'app', endpoints: [{ address: '127.0.0.1', port: (app.address() as AddressInfo).port }] }],
      });
    const p = await startProxy(doc({}));
    cleanups.push(() => p.close());
    const url = `http://127.0.0.1:${p.listeners.get('outbound')!.port}/`;
    await (await fetch(url)).text();
    const applied = await p.runtime.apply({ ...doc({ tracing: tracing(collector.url) }), listeners: p.runtime.config.listeners });
    expect(applied).toEqual({ ok: true });
    await (await fetch(url)).text();
    await p.runtime.flushTelemetry();
    expect(collector.spans.map((s) => s.name).sort()).toEqual(['attempt app', 'outbound r']);
  });
});

describe('a collector that is down', () => {
  for (const kind of ['refusing', 'hanging'] as const) {
    it(`(${kind}) loses no request under a bounded load, and counts the spans it drops`, async () => {
      let collectorUrl: string;
      let openSockets = 0;
      let maxOpen = 0;
      if (kind === 'refusing') {
        const s = http.createServer();
        await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
        collectorUrl = `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1/traces`;
        await new Promise((r) => s.close(r));
      } else {
        // Accepts connections and never answers.
        const s = http.createServer(() => {});
        s.on('connection', (sock) => {
          maxOpen = Math.max(maxOpen, ++openSockets);
          sock.on('close', () => openSockets--);
        });
        await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
        collectorUrl = `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1/traces`;
        cleanups.push(() => new Promise((r) => (s.closeAllConnections(), s.close(() => r()))));
      }
      const app = http.createServer((_req, res) => res.end('ok'));
      await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise((r) => (app.closeAllConnections(), app.close(() => r()))));
      const p = await proxy('web-pod', 'outbound', { name: 'r' }, { name: 'app', endpoints: [{ address: '127.0.0.1', port: (app.address() as AddressInfo).port }] }, {
        tracing: tracing(collectorUrl, { maxQueueSize: 50, maxExportBatchSize: 10, exportTimeoutMs: 300 }),
      });
      cleanups.push(() => p.close());
      const url = `http://127.0.0.1:${p.listeners.get('outbound')!.port}/`;
      // 600 requests, 10 at a time: every one must succeed.
      let ok = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (next++ < 600) {
            const r = await fetch(url);
            await r.text();
            if (r.status === 200) ok++;
          }
        }),
      );
      expect(ok).toBe(600);
      const metrics = await (await fetch(`http://127.0.0.1:${p.admin.port}/metrics`)).text();
      const dropped = [...metrics.matchAll(/^skein_trace_spans_dropped_total\{reason="(\w+)"\} (\d+)/gm)].reduce((a, m) => a + Number(m[2]), 0);
      // 1200 spans (request + attempt each); at most 50 queued and 10 in flight remain undecided.
      expect(dropped).toBeGreaterThanOrEqual(1200 - 60);
      expect(metrics).not.toMatch(/^skein_trace_spans_exported_total [1-9]/m);
      if (kind === 'hanging') {
        // One export at a time, each held for its 300 ms timeout: the queue of 50 must overflow. (A refusing collector
        // fails each export at once, so whether its queue ever fills depends on the machine's speed: not asserted.)
        expect(metrics).toMatch(/^skein_trace_spans_dropped_total\{reason="queue_full"\} [1-9]/m);
        expect(maxOpen).toBe(1);
      }
    });
  }
});

describe('access logs', () => {
  it('writes one JSON line per request with the documented fields, trace id included', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    const app = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (app.closeAllConnections(), app.close(() => r()))));
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(...String(chunk).split('\n').filter((l) => l.startsWith('{"timestamp"')));
      return true;
    });
    cleanups.push(() => write.mockRestore());
    const p = await proxy('web-pod', 'outbound', { name: 'logged' }, { name: 'app', endpoints: [{ address: '127.0.0.1', port: (app.address() as AddressInfo).port }] }, {
      accessLog: { enabled: true },
      tracing: tracing(collector.url),
    });
    cleanups.push(() => p.close());
    const r = await fetch(`http://127.0.0.1:${p.listeners.get('outbound')!.port}/x?y=1`, { method: 'POST', body: 'abc', headers: { 'x-request-id': 'req-1' } });
    await r.text();
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((res) => setImmediate(res));
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!);
    expect(Object.keys(rec)).toEqual([
      'timestamp', 'direction', 'listener', 'method', 'authority', 'path', 'protocol', 'code', 'grpc_status', 'cause', 'duration_ms',
      'request_bytes', 'response_bytes', 'route', 'cluster', 'upstream', 'attempts', 'client', 'peer_identity', 'mtls', 'request_id',
      'user_agent', 'trace_id', 'span_id',
    ]);
    expect(rec).toMatchObject({ direction: 'outbound', method: 'POST', path: '/x?y=1', code: 200, request_bytes: 3, response_bytes: 5, route: 'logged', cluster: 'app', request_id: 'req-1', cause: null });
    await p.runtime.flushTelemetry();
    expect(collector.spans.find((s) => s.name === 'outbound logged')?.traceId).toBe(rec.trace_id);
  });
});
