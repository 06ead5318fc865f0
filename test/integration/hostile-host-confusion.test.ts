// RELIABILITY 7 — host confusion: duplicate Host, absolute-form vs Host, Host vs :authority, case, SNI vs Host (421).
import http2 from 'node:http2';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResponses, rawExchange, http1Get, http2Get } from '../support/raw-http.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';
import { makeTestCert, type TestCert } from '../support/test-cert.ts';

describe('RELIABILITY 7: host confusion', () => {
  let upstream: RawUpstream;
  let proxy: HostileProxy;

  beforeAll(async () => {
    upstream = await startRawUpstream();
    // Only api.test is routed: any confusion that leaks a request to "the wrong host" shows up as a 200.
    proxy = await startHostileProxy({ upstreamPort: upstream.port, domains: ['api.test'] });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  const stillServes = async (): Promise<void> => {
    expect((await http1Get(proxy.port, '/healthy', { host: 'api.test' })).status).toBe(200);
  };

  it.each([
    ['duplicate Host', 'GET /a HTTP/1.1\r\nHost: api.test\r\nHost: evil.test\r\n\r\n'],
    ['duplicate Host, same value', 'GET /a HTTP/1.1\r\nHost: api.test\r\nHost: api.test\r\n\r\n'],
    ['absolute-form URI whose host differs from Host', 'GET http://evil.test/a HTTP/1.1\r\nHost: api.test\r\n\r\n'],
    ['absolute-form URI with userinfo', 'GET http://api.test@evil.test/a HTTP/1.1\r\nHost: api.test\r\n\r\n'],
    ['missing Host on HTTP/1.1', 'GET /a HTTP/1.1\r\nX-A: b\r\n\r\n'],
    ['empty Host', 'GET /a HTTP/1.1\r\nHost: \r\n\r\n'],
    ['Host with userinfo', 'GET /a HTTP/1.1\r\nHost: evil.test@api.test\r\n\r\n'],
    ['Host with a path', 'GET /a HTTP/1.1\r\nHost: api.test/evil\r\n\r\n'],
    ['Host with a backslash', 'GET /a HTTP/1.1\r\nHost: api.test\\evil.test\r\n\r\n'],
    ['asterisk-form target on GET', 'GET * HTTP/1.1\r\nHost: api.test\r\n\r\n'],
  ])('%s -> 400 bad-request, closed, nothing forwarded', async (_name, bytes) => {
    const before = upstream.requests.length;
    const r = await rawExchange(proxy.port, bytes);
    expect(r.responses[0]?.status).toBe(400);
    expect(r.responses[0]?.headers['x-skein-error']).toBe('bad-request');
    expect(r.closed).toBe(true);
    expect(upstream.requests.length).toBe(before);
    await stillServes();
  });

  it('absolute-form URI agreeing with Host is forwarded in origin-form with that host', async () => {
    const r = await rawExchange(proxy.port, 'GET http://API.test/abs?q=1 HTTP/1.1\r\nHost: api.TEST\r\nConnection: close\r\n\r\n');
    expect(r.responses[0]?.status).toBe(200);
    const got = upstream.requests.at(-1)!;
    expect(got.requestLine).toBe('GET /abs?q=1 HTTP/1.1');
    expect(got.headers.filter(([k]) => k === 'host')).toHaveLength(1);
  });

  it('Host matching is case-insensitive, and an unknown host gets 404 no-route (not the first virtual host)', async () => {
    expect((await http1Get(proxy.port, '/case', { host: 'API.Test' })).status).toBe(200);
    const other = await http1Get(proxy.port, '/case', { host: 'evil.test' });
    expect(other.status).toBe(404);
    expect(other.headers['x-skein-error']).toBe('no-route');
  });

  it('HTTP/2: host differing from :authority -> 400, nothing forwarded; same value in another case is served', async () => {
    const before = upstream.requests.length;
    const bad = await http2Get(proxy.port, '/h2-mismatch', { ':authority': 'api.test', host: 'evil.test' });
    expect(bad.status).toBe(400);
    expect(bad.headers['x-skein-error']).toBe('bad-request');
    expect(upstream.requests.length).toBe(before);
    const ok = await http2Get(proxy.port, '/h2-same', { ':authority': 'api.test', host: 'API.TEST' });
    expect(ok.status).toBe(200);
    const evil = await http2Get(proxy.port, '/h2-evil', { ':authority': 'evil.test' });
    expect(evil.status).toBe(404);
    await stillServes();
  });

  describe('SNI vs Host at a TLS ingress', () => {
    let cert: TestCert;
    let ingress: HostileProxy;

    beforeAll(async () => {
      cert = makeTestCert(['api.test', 'other.test']);
      ingress = await startHostileProxy({
        upstreamPort: upstream.port,
        mode: 'ingress',
        direction: 'ingress',
        tls: { certFile: cert.certFile, keyFile: cert.keyFile },
        domains: ['api.test', 'other.test'],
      });
    });
    afterAll(async () => {
      await ingress?.close();
      cert?.remove();
    });

    async function tlsHttp1(servername: string, request: string): Promise<ReturnType<typeof parseResponses>> {
      const socket = tls.connect({ host: '127.0.0.1', port: ingress.port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
      let raw = Buffer.alloc(0);
      socket.on('data', (c: Buffer) => (raw = Buffer.concat([raw, c])));
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
      socket.write(request);
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      return parseResponses(raw, { closed: true });
    }

    it('HTTP/1.1: Host not matching the SNI -> 421 misdirected; matching (any case, with port) -> 200', async () => {
      const before = upstream.requests.length;
      const bad = await tlsHttp1('api.test', 'GET /sni HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n');
      expect(bad[0]?.status).toBe(421);
      expect(bad[0]?.headers['x-skein-error']).toBe('misdirected');
      expect(upstream.requests.length).toBe(before);
      const ok = await tlsHttp1('api.test', `GET /sni HTTP/1.1\r\nHost: API.test:${ingress.port}\r\nConnection: close\r\n\r\n`);
      expect(ok[0]?.status).toBe(200);
    });

    it('HTTP/2: a coalesced connection (SNI api.test) asking for other.test -> 421 on that stream, the connection keeps serving', async () => {
      const session = http2.connect(`https://127.0.0.1:${ingress.port}`, { servername: 'api.test', rejectUnauthorized: false });
      try {
        const ask = (authority: string): Promise<{ status: number; cause: string | undefined }> =>
          new Promise((resolve, reject) => {
            const req = session.request({ ':path': '/sni-h2', ':authority': authority });
            req.on('response', (h) => resolve({ status: Number(h[':status']), cause: h['x-skein-error'] as string | undefined }));
            req.on('error', reject);
            req.resume();
            req.end();
          });
        expect(await ask('other.test')).toEqual({ status: 421, cause: 'misdirected' });
        expect((await ask('api.test')).status).toBe(200);
      } finally {
        session.destroy();
      }
    });
  });

  describe('SNI vs Host with the Gateway listeners known (GatewayHTTPSListenerDetectMisdirectedRequests)', () => {
    let cert: TestCert;
    let gateway: HostileProxy;

    beforeAll(async () => {
      cert = makeTestCert(['api.test', 'other.test', '*.wild.test']);
      gateway = await startHostileProxy({
        upstreamPort: upstream.port,
        mode: 'ingress',
        direction: 'ingress',
        // A listener without hostname, one for api.test, one for *.wild.test, on one port.
        tls: { certFile: cert.certFile, keyFile: cert.keyFile, listenerHostnames: ['*', 'api.test', '*.wild.test'] },
        domains: ['api.test', 'other.test', '*.wild.test'],
      });
    });
    afterAll(async () => {
      await gateway?.close();
      cert?.remove();
    });

    const ask = async (servername: string, authority: string): Promise<number> => {
      const session = http2.connect(`https://127.0.0.1:${gateway.port}`, { servername, rejectUnauthorized: false });
      try {
        return await new Promise((resolve, reject) => {
          const req = session.request({ ':path': '/listeners', ':authority': authority });
          req.on('response', (h) => resolve(Number(h[':status'])));
          req.on('error', reject);
          req.resume();
          req.end();
        });
      } finally {
        session.destroy();
      }
    };

    it('421 only when Host selects another listener than the SNI did', async () => {
      const before = upstream.requests.length;
      expect(await ask('other.test', 'API.test')).toBe(421);
      expect(await ask('a.wild.test', 'api.test')).toBe(421);
      expect(await ask('api.test', 'b.wild.test')).toBe(421);
      expect(upstream.requests.length).toBe(before);
      // Same listener: an unknown SNI on the listener without hostname, two names under one wildcard.
      expect(await ask('unknown.test', 'other.test')).toBe(200);
      expect(await ask('a.wild.test', `b.wild.test:${gateway.port}`)).toBe(200);
    });
  });
});
