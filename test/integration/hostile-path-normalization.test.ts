// RELIABILITY 5 — path normalization at the ingress: `..`, `%2F`, `%5C`, `//`, `#`, `;`, encoded unreserved characters.
// Route matching and the edge policies see the canonical path that is forwarded; an ambiguity fails closed (400).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http2Get, rawExchange } from '../support/raw-http.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';

describe('RELIABILITY 5: path normalization at the ingress', () => {
  let upstream: RawUpstream;
  let proxy: HostileProxy;

  beforeAll(async () => {
    upstream = await startRawUpstream();
    // /admin is closed to everyone (an edge policy); anything else goes to the upstream. A path that reaches /admin by
    // another spelling and gets a 200 would be an authorization bypass.
    proxy = await startHostileProxy({
      upstreamPort: upstream.port,
      direction: 'ingress',
      routes: [{ name: 'admin', match: { path: { type: 'prefix', value: '/admin' } }, backends: [{ cluster: 'up' }], edge: { ipFilter: { deny: ['0.0.0.0/0', '::/0'] } } }],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  const get = async (path: string): Promise<{ status: number | undefined; cause: string | undefined; closed: boolean }> => {
    const r = await rawExchange(proxy.port, `GET ${path} HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n`);
    return { status: r.responses[0]?.status, cause: r.responses[0]?.headers['x-skein-error'] as string | undefined, closed: r.closed };
  };

  it.each(['/public/../admin', '/%61dmin', '//admin', '/./admin/', '/public/%2e%2e/admin', '/x/..//admin/users'])(
    '%s is /admin after normalization: the route and its policy apply (403), nothing forwarded',
    async (path) => {
      const before = upstream.requests.length;
      expect(await get(path)).toMatchObject({ status: 403, cause: 'ip-denied' });
      expect(upstream.requests.length).toBe(before);
    },
  );

  it.each(['/public/..%2Fadmin', '/public%2F..%2Fadmin', '/public/..%5Cadmin', '/public\\..\\admin', '/admin;jsessionid=1', '/public/..;/admin', '/a%00', '/a%zz', '/admin#frag'])(
    '%s is ambiguous -> 400 bad-request, nothing forwarded',
    async (path) => {
      const before = upstream.requests.length;
      expect(await get(path)).toMatchObject({ status: 400, cause: 'bad-request' });
      expect(upstream.requests.length).toBe(before);
    },
  );

  it('the upstream receives the canonical path (query untouched)', async () => {
    expect((await get('/public/./a//b/../c%7e%2a?x=/../y')).status).toBe(200);
    expect(upstream.requests.at(-1)!.requestLine).toBe('GET /public/a/c~%2A?x=/../y HTTP/1.1');
  });

  it('HTTP/2 gets the same treatment', async () => {
    expect((await http2Get(proxy.port, '/public/../admin', { ':authority': 'edge.test' })).status).toBe(403);
    expect((await http2Get(proxy.port, '/public/..%2fadmin', { ':authority': 'edge.test' })).status).toBe(400);
    const ok = await http2Get(proxy.port, '/public//x', { ':authority': 'edge.test' });
    expect(ok.status).toBe(200);
  });
});
