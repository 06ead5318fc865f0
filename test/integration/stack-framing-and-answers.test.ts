// The request stack's own guarantees: upstream framing is regenerated, every answer the proxy originates is counted, and a
// client that goes away is not counted as an upstream failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http1Get, rawExchange } from '../support/raw-http.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';

async function proxyErrors(p: HostileProxy, cause: string): Promise<number> {
  const text = await p.proxy.runtime.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith('skein_proxy_errors_total{') && l.includes(`cause="${cause}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('request stack: framing and originated answers', () => {
  let upstream: RawUpstream;
  let proxy: HostileProxy;

  beforeAll(async () => {
    upstream = await startRawUpstream();
    proxy = await startHostileProxy({ upstreamPort: upstream.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('Content-Length with leading zeros reaches the upstream as the proxy\'s own decimal length', async () => {
    const r = await rawExchange(proxy.port, 'POST /cl HTTP/1.1\r\nHost: example.test\r\nContent-Length: 00005\r\nConnection: close\r\n\r\nhello');
    expect(r.responses[0]?.status).toBe(200);
    const seen = upstream.requests.find((q) => q.path === '/cl')!;
    expect(seen.headers.filter(([n]) => n === 'content-length')).toEqual([['content-length', '5']]);
    expect(seen.body.toString()).toBe('hello');
  });

  it('the codec\'s own 400 and 405 answers are counted under their cause', async () => {
    const before = await proxyErrors(proxy, 'bad-request');
    const bad = await rawExchange(proxy.port, 'GET /a HTTP/1.1\r\nHost: example.test\r\nX A: b\r\n\r\n');
    expect(bad.responses[0]?.status).toBe(400);
    const connect = await rawExchange(proxy.port, 'CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n');
    expect(connect.responses[0]?.status).toBe(405);
    expect(await proxyErrors(proxy, 'bad-request')).toBe(before + 2);
    expect((await http1Get(proxy.port)).status).toBe(200);
  });
});
