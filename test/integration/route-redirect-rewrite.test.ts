// Redirects and URL rewrites (the Gateway API filters) through a real proxy over HTTP/1.1 and HTTP/2 clients to h1 and
// h2 upstreams: the redirect answers without an upstream; the rewrite changes what the upstream sees, the query kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFor } from '../support/clients.ts';
import { startTestProxy, type TestProxy } from '../support/proxy-fixture.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';

describe('redirect and rewrite routes', () => {
  let h1: Upstream;
  let h2: Upstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    h1 = await startHttpUpstream('h1', { id: 'h1' });
    h2 = await startHttpUpstream('h2', { id: 'h2' });
    proxy = await startTestProxy({
      routes: [
        { name: 'moved', match: { path: { type: 'prefix', value: '/old' } }, redirect: { statusCode: 301, hostname: 'new.example', path: { type: 'prefix', value: '/new' } } },
        { name: 'rw-h1', match: { path: { type: 'prefix', value: '/v1/h1' } }, backends: [{ cluster: 'h1' }], rewrite: { hostname: 'backend.internal', path: { type: 'prefix', value: '/api' } } },
        { name: 'rw-h2', match: { path: { type: 'prefix', value: '/v1/h2' } }, backends: [{ cluster: 'h2' }], rewrite: { path: { type: 'full', value: '/only' } } },
      ],
      clusters: [
        { name: 'h1', endpoints: [{ address: '127.0.0.1', port: h1.port }] },
        { name: 'h2', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: h2.port }] },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await h1?.close();
    await h2?.close();
  });

  for (const down of ['h1', 'h2'] as const) {
    it(`${down}: a redirect route answers 301 with Location and reaches no upstream`, async () => {
      const c = clientFor(down, proxy.port);
      const before = h1.seen.length + h2.seen.length;
      try {
        const r = await c.request('/old/page?x=1');
        expect(r.status).toBe(301);
        expect(r.headers.location).toMatch(/^http:\/\/new\.example(:\d+)?\/new\/page\?x=1$/);
        expect(h1.seen.length + h2.seen.length).toBe(before);
      } finally {
        c.close();
      }
    });

    it(`${down}: a rewrite changes the Host and path the upstream sees`, async () => {
      const c = clientFor(down, proxy.port);
      try {
        const a = JSON.parse((await c.request('/v1/h1/users?id=7')).body.toString()) as { id: string; path: string; headers: Record<string, string> };
        expect(a.id).toBe('h1');
        expect(a.path).toBe('/api/users?id=7');
        expect(a.headers.host).toBe('backend.internal');
        const b = JSON.parse((await c.request('/v1/h2/anything?q')).body.toString()) as { id: string; path: string };
        expect(b).toMatchObject({ id: 'h2', path: '/only?q' });
      } finally {
        c.close();
      }
    });
  }
});
