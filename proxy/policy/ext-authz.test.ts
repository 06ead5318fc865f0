// Unit tests of the external authorization layer with a fake authorization service and fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ExtAuthzConfig } from '../../api/config/edge-policy-config.ts';
import type { ProxyError } from '../errors/proxy-error.ts';
import { ProxyRequest, type DownstreamInfo } from '../stack/proxy-request.ts';
import { ProxyResponse, type ResponseSink } from '../stack/proxy-response.ts';
import type { Service } from '../stack/service.ts';
import type { EdgeHttpAnswer, EdgeHttpCall, EdgeHttpRequest } from './edge-http-client.ts';
import { extAuthzLayer, type ExtAuthzCounters } from './ext-authz.ts';

const downstream: DownstreamInfo = { listener: 'edge', direction: 'ingress', clientAddress: '192.0.2.1', clientPort: 1, tls: true, sni: null, peerIdentity: null, originalDst: null };

function request(headers: Record<string, string> = {}, grpc = false): ProxyRequest {
  return new ProxyRequest('POST', 'api.test', '/orders?id=1', { ...headers }, null, downstream, grpc, 0, headers);
}

function config(over: Partial<ExtAuthzConfig> = {}): ExtAuthzConfig {
  return { url: 'http://authz.test:9000/check/', timeoutMs: 200, failOpen: false, includeHeaders: ['authorization'], upstreamHeaders: ['x-user'], maxResponseBytes: 1024, ...over };
}

const counters = (): ExtAuthzCounters => ({ allowed: 0, denied: 0, failedOpen: 0, failedClosed: 0 });

function service(answer: EdgeHttpAnswer | Error | 'hang') {
  const asked: EdgeHttpRequest[] = [];
  const call: EdgeHttpCall = (r) => {
    asked.push(r);
    if (answer === 'hang') return new Promise((_, reject) => r.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  };
  return { call, asked };
}

function upstream() {
  const seen: Record<string, unknown>[] = [];
  const svc: Service = (req) => {
    seen.push({ ...req.headers });
    return Promise.resolve(new ProxyResponse(200, {}, null));
  };
  return { svc, seen };
}

async function bodyOf(res: ProxyResponse): Promise<string> {
  if (res.body === null) return '';
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    const sink: ResponseSink = { data: (c) => (chunks.push(c), true), end: () => resolve(), error: () => resolve() };
    res.body!.start(sink);
  });
  return Buffer.concat(chunks).toString();
}

describe('external authorization layer', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('asks with the method, the path under the service path and only the selected headers; an allow adds its headers upstream', async () => {
    const s = service({ status: 200, headers: { 'x-user': 'alice', 'x-other': 'no' }, body: Buffer.alloc(0) });
    const u = upstream();
    const n = counters();
    const res = await extAuthzLayer(config(), s.call, n, () => {})(u.svc)(request({ authorization: 'Bearer t', cookie: 'secret' }));
    expect(res.status).toBe(200);
    expect(s.asked[0]).toMatchObject({ method: 'POST', url: 'http://authz.test:9000/check/orders?id=1', headers: { authorization: 'Bearer t', 'x-forwarded-host': 'api.test' } });
    expect(s.asked[0]!.headers.cookie).toBeUndefined();
    expect(u.seen[0]).toMatchObject({ 'x-user': 'alice' });
    expect(u.seen[0]!['x-other']).toBeUndefined();
    expect(n.allowed).toBe(1);
  });

  it('a denial is passed back with its status, body and chosen headers, never reaching the upstream', async () => {
    const s = service({ status: 401, headers: { 'www-authenticate': 'Basic', 'x-internal': 'leak' }, body: Buffer.from('go away') });
    const u = upstream();
    const n = counters();
    const res = await extAuthzLayer(config(), s.call, n, () => {})(u.svc)(request());
    expect(res.status).toBe(401);
    expect(res.headers).toMatchObject({ 'www-authenticate': 'Basic', 'x-skein-error': 'ext-authz-denied' });
    expect(res.headers['x-internal']).toBeUndefined();
    expect(await bodyOf(res)).toBe('go away');
    expect(u.seen).toEqual([]);
    expect(n.denied).toBe(1);
  });

  it('a gRPC request that is denied gets PERMISSION_DENIED through the rescue', async () => {
    const s = service({ status: 403, headers: {}, body: Buffer.alloc(0) });
    const e = (await extAuthzLayer(config(), s.call, counters(), () => {})(upstream().svc)(request({}, true)).catch((x: unknown) => x)) as ProxyError;
    expect(e.spec.cause).toBe('ext-authz-denied');
    expect(e.spec.grpcStatus).toBe(7);
  });

  it('timeout, fail closed: 503 ext-authz-unavailable at the timeout, and the call is aborted', async () => {
    const s = service('hang');
    const n = counters();
    const failures: string[] = [];
    const p = extAuthzLayer(config(), s.call, n, (r) => failures.push(r))(upstream().svc)(request()).catch((x: unknown) => x);
    await vi.advanceTimersByTimeAsync(199);
    expect(n.failedClosed).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    const e = (await p) as ProxyError;
    expect(e.spec.cause).toBe('ext-authz-unavailable');
    expect(e.spec.status).toBe(503);
    expect(s.asked[0]!.signal.aborted).toBe(true);
    expect(failures).toEqual(['no answer within 200 ms']);
    expect(n.failedClosed).toBe(1);
  });

  it('timeout, fail open: the request proceeds (counted)', async () => {
    const u = upstream();
    const n = counters();
    const p = extAuthzLayer(config({ failOpen: true }), service('hang').call, n, () => {})(u.svc)(request());
    await vi.advanceTimersByTimeAsync(200);
    expect((await p).status).toBe(200);
    expect(u.seen.length).toBe(1);
    expect(n.failedOpen).toBe(1);
  });

  it('an error or a 5xx from the service is a failure of the service, not a denial', async () => {
    for (const answer of [new Error('ECONNREFUSED'), { status: 503, headers: {}, body: Buffer.alloc(0) }]) {
      const closed = await extAuthzLayer(config(), service(answer).call, counters(), () => {})(upstream().svc)(request()).catch((x: unknown) => x);
      expect((closed as ProxyError).spec.cause).toBe('ext-authz-unavailable');
      const open = await extAuthzLayer(config({ failOpen: true }), service(answer).call, counters(), () => {})(upstream().svc)(request());
      expect(open.status).toBe(200);
    }
  });
});
