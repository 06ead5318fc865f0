// The proxy's own HTTP/1.1 codec against ordinary (not hostile) clients and upstreams: HTTP/1.0, Expect: 100-continue,
// re-framing of chunked and close-delimited answers, HEAD, pipelined uploads, trailers, keep-alive reuse upstream.
import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange, rawSession } from '../support/raw-http.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';

describe('HTTP/1.1 codec: ordinary traffic', () => {
  let upstream: http.Server;
  let proxy: HostileProxy;
  const upstreamPorts = new Set<number>();

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      upstreamPorts.add(req.socket.remotePort ?? 0);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        if (req.url === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('part1-');
          setTimeout(() => res.end('part2'), 5);
        } else if (req.url === '/trailers') {
          res.writeHead(200, { trailer: 'x-checksum' });
          res.write('data');
          res.addTrailers({ 'x-checksum': 'abc' });
          res.end();
        } else if (req.url === '/head') {
          res.writeHead(200, { 'content-length': '11' });
          res.end(req.method === 'HEAD' ? undefined : 'hello world');
        } else {
          res.writeHead(200, { 'content-type': 'text/plain', 'x-seen-method': req.method ?? '' });
          res.end(`${req.method} ${req.url} ${body}`);
        }
      });
    });
    upstream.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    proxy = await startHostileProxy({ upstreamPort: (upstream.address() as net.AddressInfo).port });
  });
  afterAll(async () => {
    await proxy?.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('HTTP/1.0 without keep-alive: answered with a length and closed', async () => {
    const r = await rawExchange(proxy.port, 'GET /ten HTTP/1.0\r\nHost: example.test\r\n\r\n');
    expect(r.responses[0]!.status).toBe(200);
    expect(r.responses[0]!.body.toString()).toBe('GET /ten ');
    expect(r.responses[0]!.headers.connection).toBe('close');
    expect(r.closed).toBe(true);
  });

  it('HTTP/1.0 with keep-alive: a sized answer keeps the connection open; an answer of unknown length is sent close-delimited', async () => {
    const r = await rawExchange(proxy.port, 'GET /head HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\nGET /chunked HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\n');
    expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
    expect(r.responses[0]!.headers.connection).toBe('keep-alive');
    expect(r.responses[0]!.body.toString()).toBe('hello world');
    expect(r.responses[1]!.headers.connection).toBe('close');
    expect(r.responses[1]!.body.toString()).toBe('part1-part2');
    expect(r.responses[1]!.headers['transfer-encoding']).toBeUndefined();
    expect(r.closed).toBe(true);
  });

  it('a chunked upstream answer reaches an HTTP/1.1 client chunked, with its trailers', async () => {
    const r = await rawExchange(proxy.port, 'GET /trailers HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
    expect(r.responses[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(r.responses[0]!.body.toString()).toBe('data');
    expect(r.raw.toString('latin1')).toMatch(/\r\n0\r\nx-checksum: abc\r\n\r\n$/);
  });

  it('HEAD: headers only, the Content-Length of the GET, and the next request on the connection is fine', async () => {
    const r = await rawExchange(proxy.port, 'HEAD /head HTTP/1.1\r\nHost: example.test\r\n\r\nGET /head HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n', { headRequests: new Set([0]) });
    expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
    expect(r.responses[0]!.headers['content-length']).toBe('11');
    expect(r.responses[1]!.body.toString()).toBe('hello world');
  });

  it('Expect: 100-continue: the client gets 100 Continue, then the answer to its body', async () => {
    const s = await rawSession(proxy.port, { responses: 2 });
    s.write('POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    let text = '';
    s.socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const end = Date.now() + 5_000;
    while (!text.includes('100 Continue') && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')).toBe(true);
    s.write('hello');
    const r = await s.result();
    expect(r.responses.at(-1)!.body.toString()).toBe('POST /upload hello');
  });

  it('pipelined uploads (Content-Length and chunked) are forwarded one after the other, in order', async () => {
    const r = await rawExchange(
      proxy.port,
      'POST /p1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 3\r\n\r\nabcPOST /p2 HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\nGET /p3 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n',
    );
    expect(r.responses.map((x) => x.body.toString())).toEqual(['POST /p1 abc', 'POST /p2 de', 'GET /p3 ']);
  });

  it('an answer sent before the request body was read still leaves the connection usable', async () => {
    // A route that answers directly never reads the body: the proxy reads and drops it, then serves the next request.
    const p = await startHostileProxy({
      upstreamPort: (upstream.address() as net.AddressInfo).port,
      routes: [{ name: 'direct', match: { path: { type: 'prefix', value: '/direct' } }, directResponse: { status: 202, body: 'ok' } }],
    });
    try {
      const s = await rawSession(p.port, { responses: 2 });
      s.write('POST /direct HTTP/1.1\r\nHost: example.test\r\nContent-Length: 10\r\n\r\n12345');
      s.write('67890GET /after HTTP/1.1\r\nHost: example.test\r\n\r\n');
      const r = await s.result();
      expect(r.responses.map((x) => x.status)).toEqual([202, 200]);
      expect(r.responses[1]!.body.toString()).toBe('GET /after ');
    } finally {
      await p.close();
    }
  });

  it('upstream connections are kept alive and reused across client connections', async () => {
    upstreamPorts.clear();
    for (let i = 0; i < 5; i++) expect((await rawExchange(proxy.port, `GET /reuse-${i} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n`)).responses[0]!.status).toBe(200);
    expect(upstreamPorts.size).toBe(1);
  });
});

describe('HTTP/1.1 codec: a close-delimited upstream answer', () => {
  let upstream: RawUpstream;
  let proxy: HostileProxy;
  beforeAll(async () => {
    upstream = await startRawUpstream((_req, socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-close-body'));
    proxy = await startHostileProxy({ upstreamPort: upstream.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('is re-framed for the client (chunked) and the client connection stays usable', async () => {
    const r = await rawExchange(proxy.port, 'GET /a HTTP/1.1\r\nHost: example.test\r\n\r\nGET /b HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
    expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
    expect(r.responses[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(r.responses.map((x) => x.body.toString())).toEqual(['until-close-body', 'until-close-body']);
  });
});
