// Every proxy behaviour over the protocol matrix: HTTP/1.1 or HTTP/2 downstream x HTTP/1.1 or HTTP/2 upstream.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFor } from '../support/clients.ts';
import { startTestProxy, type TestProxy } from '../support/proxy-fixture.ts';
import { startHttpUpstream, type Protocol, type Upstream } from '../support/upstreams.ts';

const matrix: [Protocol, Protocol][] = [
  ['h1', 'h1'],
  ['h1', 'h2'],
  ['h2', 'h1'],
  ['h2', 'h2'],
];

function bodyOf(size: number, chunk = 65536): Readable {
  let sent = 0;
  const block = Buffer.alloc(chunk, 0x62);
  return new Readable({
    read() {
      if (sent >= size) return this.push(null);
      const n = Math.min(chunk, size - sent);
      sent += n;
      this.push(n === chunk ? block : block.subarray(0, n));
    },
  });
}

describe.each(matrix)('%s client -> proxy -> %s upstream', (down, up) => {
  let upstream: Upstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    upstream = await startHttpUpstream(up, { id: `up-${up}` });
    proxy = await startTestProxy({
      routes: [
        { name: 'rewrite', match: { path: { type: 'prefix', value: '/mutate' } }, backends: [{ cluster: 'app' }], requestHeaders: { set: { 'x-added': 'yes' }, remove: ['x-remove-me'] }, responseHeaders: { set: { 'x-route': 'mutate' } } },
        {
          name: 'per-backend',
          match: { path: { type: 'prefix', value: '/per-backend' } },
          backends: [{ cluster: 'app', requestHeaders: { set: { 'x-backend': 'app', 'x-added': 'by-backend' }, remove: ['x-remove-me'] } }],
          requestHeaders: { set: { 'x-added': 'by-route' } },
        },
        { name: 'default', backends: [{ cluster: 'app' }] },
      ],
      clusters: [{ name: 'app', protocol: up === 'h1' ? 'http1' : 'http2', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it('forwards a plain request with the upstream protocol, forwarding headers and a request id', async () => {
    const c = clientFor(down, proxy.port);
    try {
      const r = await c.request('/echo?x=1', { headers: { 'x-custom': 'v' } });
      expect(r.status).toBe(200);
      const seen = JSON.parse(r.body.toString());
      expect(seen.protocol).toBe(up);
      expect(seen.path).toBe('/echo?x=1');
      expect(seen.headers['x-custom']).toBe('v');
      expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen.headers['x-forwarded-proto']).toBe('http');
      expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.headers['x-upstream']).toBe(`up-${up}`);
    } finally {
      c.close();
    }
  });

  it('keeps a request id the client sent', async () => {
    const c = clientFor(down, proxy.port);
    try {
      const r = await c.request('/echo', { headers: { 'x-request-id': 'client-chosen-id' } });
      expect(JSON.parse(r.body.toString()).headers['x-request-id']).toBe('client-chosen-id');
    } finally {
      c.close();
    }
  });

  it('applies the route request and response header changes', async () => {
    const c = clientFor(down, proxy.port);
    try {
      const r = await c.request('/mutate', { headers: { 'x-remove-me': 'gone' } });
      const seen = JSON.parse(r.body.toString());
      expect(seen.headers['x-added']).toBe('yes');
      expect(seen.headers['x-remove-me']).toBeUndefined();
      expect(seen.headers['x-backend']).toBeUndefined();
      expect(r.headers['x-route']).toBe('mutate');
    } finally {
      c.close();
    }
  });

  it("applies a backend's own request header changes after the route's (Gateway API backendRef filters)", async () => {
    const c = clientFor(down, proxy.port);
    try {
      const r = await c.request('/per-backend', { headers: { 'x-remove-me': 'gone' } });
      const seen = JSON.parse(r.body.toString());
      expect(seen.headers['x-backend']).toBe('app');
      expect(seen.headers['x-added']).toBe('by-backend');
      expect(seen.headers['x-remove-me']).toBeUndefined();
    } finally {
      c.close();
    }
  });

  it('streams a large upload end to end intact', async () => {
    const c = clientFor(down, proxy.port);
    try {
      const size = 48 * 1024 * 1024 + 123;
      const r = await c.request('/upload', { method: 'POST', body: bodyOf(size) });
      expect(r.status).toBe(200);
      const res = JSON.parse(r.body.toString());
      expect(res.bytes).toBe(size);
    } finally {
      c.close();
    }
  });

  it('streams a large download end to end intact', async () => {
    const c = clientFor(down, proxy.port);
    try {
      const size = 32 * 1024 * 1024 + 7;
      const r = await c.request(`/download?bytes=${size}`);
      expect(r.status).toBe(200);
      expect(r.body.length).toBe(size);
    } finally {
      c.close();
    }
  });

  it('passes response trailers through', async () => {
    const c = clientFor(down, proxy.port);
    try {
      const r = await c.request('/trailers', { headers: { te: 'trailers' } });
      expect(r.body.toString()).toBe('body-with-trailers');
      expect(r.trailers['x-checksum']).toBe('abc123');
    } finally {
      c.close();
    }
  });

  it('passes upstream statuses through and answers HEAD without a body', async () => {
    const c = clientFor(down, proxy.port);
    try {
      expect((await c.request('/status/418')).status).toBe(418);
      expect((await c.request('/status/204')).status).toBe(204);
      const head = await c.request('/echo', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.body.length).toBe(0);
    } finally {
      c.close();
    }
  });

  it('answers 503 with the cause header when the endpoint refuses connections', async () => {
    const dead = await startTestProxy({
      routes: [{ name: 'r', backends: [{ cluster: 'gone' }] }],
      clusters: [{ name: 'gone', protocol: up === 'h1' ? 'http1' : 'http2', endpoints: [{ address: '127.0.0.1', port: 1 }] }],
    });
    const c = clientFor(down, dead.port);
    try {
      const r = await c.request('/x');
      expect(r.status).toBe(503);
      expect(r.headers['x-skein-error']).toBe('connect-failed');
    } finally {
      c.close();
      await dead.close();
    }
  });
});

describe('request handling independent of the upstream protocol', () => {
  let upstream: Upstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = await startHttpUpstream('h1');
    proxy = await startTestProxy({
      routes: [{ name: 'default', backends: [{ cluster: 'app' }] }],
      clusters: [{ name: 'app', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it('removes hop-by-hop headers and headers named in Connection', async () => {
    const c = clientFor('h1', proxy.port);
    try {
      const r = await c.request('/echo', { headers: { connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'keep-alive': 'timeout=5', 'proxy-connection': 'x' } });
      const seen = JSON.parse(r.body.toString());
      expect(seen.headers['x-hop']).toBeUndefined();
      expect(seen.headers['keep-alive']).toBeUndefined();
      expect(seen.headers['proxy-connection']).toBeUndefined();
    } finally {
      c.close();
    }
  });

  it('answers 404 no-route when no route matches, for plain HTTP', async () => {
    const strict = await startTestProxy({
      routes: [{ name: 'only', match: { path: { type: 'exact', value: '/only' } }, backends: [{ cluster: 'app' }] }],
      clusters: [{ name: 'app', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }],
    });
    const c = clientFor('h2', strict.port);
    try {
      const r = await c.request('/other');
      expect(r.status).toBe(404);
      expect(r.headers['x-skein-error']).toBe('no-route');
      expect((await c.request('/only')).status).toBe(200);
    } finally {
      c.close();
      await strict.close();
    }
  });
});
