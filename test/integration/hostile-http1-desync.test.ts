// RELIABILITY 1 — HTTP/1 desync: every ambiguous framing is answered 400 and closed, and the upstream never sees a smuggled request.
import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http1Get, rawExchange, rawSession } from '../support/raw-http.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: example.test\r\n\r\n';

/** Each case: the bytes of one hostile request followed by a second, smuggled one. */
const CASES: readonly (readonly [string, string])[] = [
  ['CL + TE', `POST /a HTTP/1.1\r\nHost: example.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE + CL (TE first)', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE.TE: chunked then identity', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE: xchunked', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE: chunked, identity', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE with space before colon', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE with vertical tab', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE in obs-fold', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['obs-fold in an ordinary header', `GET /a HTTP/1.1\r\nHost: example.test\r\nX-Folded: one\r\n two\r\n\r\n${SMUGGLED}`],
  ['bare CR inside a header line', `GET /a HTTP/1.1\r\nHost: example.test\r\nX-A: b\rX-B: c\r\n\r\n${SMUGGLED}`],
  ['bare LF line endings', `GET /a HTTP/1.1\nHost: example.test\nX-A: b\n\n${SMUGGLED}`],
  ['bare LF inside the header block', `GET /a HTTP/1.1\r\nHost: example.test\r\nX-A: b\nContent-Length: 5\r\n\r\n${SMUGGLED}`],
  ['NUL in a header value', `GET /a HTTP/1.1\r\nHost: example.test\r\nX-A: b\x00c\r\n\r\n${SMUGGLED}`],
  ['NUL in the request target', `GET /a\x00b HTTP/1.1\r\nHost: example.test\r\n\r\n${SMUGGLED}`],
  ['two different Content-Lengths', `POST /a HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\nContent-Length: 46\r\n\r\nhello${SMUGGLED}`],
  ['Content-Length list', `POST /a HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5, 46\r\n\r\nhello${SMUGGLED}`],
  ['Content-Length with a sign', `POST /a HTTP/1.1\r\nHost: example.test\r\nContent-Length: +5\r\n\r\nhello${SMUGGLED}`],
  ['chunk-size junk', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
  ['chunk-size with 0x prefix', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
  ['negative chunk size', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
  ['chunk size overflowing 64 bits', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
  ['chunk data longer than its size', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
  ['huge chunk extension', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n5;${'x'.repeat(40_000)}\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
  ['space inside the request line', `GET /a /b HTTP/1.1\r\nHost: example.test\r\n\r\n${SMUGGLED}`],
  ['header name with a space', `GET /a HTTP/1.1\r\nHost: example.test\r\nX A: b\r\n\r\n${SMUGGLED}`],
  ['TE in HTTP/1.0', `POST /a HTTP/1.0\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE chunked twice', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE: gzip, chunked (a coding the proxy would drop)', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE + CL 0 on GET', `GET /a HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['the same Content-Length twice', `POST /a HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello${SMUGGLED}`],
  ['hex Content-Length', `POST /a HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0x5\r\n\r\nhello${SMUGGLED}`],
  ['quoted CRLF in a chunk extension', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n5;a="b\r\nc"\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
  ['a request line hidden in the trailers', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\nGET /smuggled HTTP/1.1\r\n\r\n`],
  ['bare LF after a chunk size', `POST /a HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n${SMUGGLED}`],
  ['whitespace before the first header', `GET /a HTTP/1.1\r\n Host: example.test\r\n\r\n${SMUGGLED}`],
  ['an extra token after the version', `GET /a HTTP/1.1 x\r\nHost: example.test\r\n\r\n${SMUGGLED}`],
  ['HTTP/1.2', `GET /a HTTP/1.2\r\nHost: example.test\r\n\r\n${SMUGGLED}`],
  ['HTTP/2.0 in an HTTP/1 request line', `GET /a HTTP/2.0\r\nHost: example.test\r\n\r\n${SMUGGLED}`],
  ['HTTP/3.0 in an HTTP/1 request line', `POST /a HTTP/3.0\r\nHost: example.test\r\nContent-Length: 5\r\n\r\nhello${SMUGGLED}`],
  ['HTTP/2.0 request line asking for a WebSocket upgrade', `GET /a HTTP/2.0\r\nHost: example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n${SMUGGLED}`],
];

describe('RELIABILITY 1: HTTP/1 desync', () => {
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

  it.each(CASES)('%s -> 400 bad-request, connection closed, nothing smuggled', async (_name, bytes) => {
    const r = await rawExchange(proxy.port, bytes);
    expect(r.closed).toBe(true);
    expect(r.responses).toHaveLength(1);
    expect(r.responses[0]!.status).toBe(400);
    expect(r.responses[0]!.headers['x-skein-error']).toBe('bad-request');
    expect(r.responses[0]!.headers.connection).toBe('close');
    // The upstream never saw the smuggled request, not even as bytes inside a body.
    expect(upstream.allText()).not.toContain('/smuggled');
    expect(upstream.requests.filter((q) => q.path === '/smuggled')).toHaveLength(0);
    // And the proxy still serves a normal request on a new connection.
    const ok = await http1Get(proxy.port, '/after');
    expect(ok.status).toBe(200);
  });

  it('framing toward the upstream is regenerated: a chunked request arrives with clean chunked framing and no extensions', async () => {
    const before = upstream.requests.length;
    const r = await rawExchange(
      proxy.port,
      'POST /regen HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n',
    );
    expect(r.responses[0]!.status).toBe(200);
    const got = upstream.requests.slice(before).find((q) => q.path === '/regen')!;
    expect(got.body.toString()).toBe('abcde');
    expect(got.headers.filter(([n]) => n === 'transfer-encoding')).toEqual([['transfer-encoding', 'chunked']]);
    expect(got.headers.find(([n]) => n === 'content-length')).toBeUndefined();
    const wire = upstream.received[got.connection]!.toString('latin1');
    expect(wire).not.toContain('ext=1');
  });

  it('a request with Content-Length is forwarded with exactly that Content-Length and body; pipelined followers are separate requests', async () => {
    const before = upstream.requests.length;
    const r = await rawExchange(
      proxy.port,
      'POST /one HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\n\r\nhelloGET /two HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n',
    );
    expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
    const seen = upstream.requests.slice(before);
    expect(seen.map((q) => q.requestLine)).toEqual(['POST /one HTTP/1.1', 'GET /two HTTP/1.1']);
    expect(seen[0]!.body.toString()).toBe('hello');
    expect(seen[0]!.headers.find(([n]) => n === 'content-length')).toEqual(['content-length', '5']);
  });

  it('a framing error after the response started: no 400 is written into the middle of that response, the connection just closes', async () => {
    // An upstream that answers before it has read the request body.
    const early = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '100' });
      res.write('part-of-the-body');
    });
    await new Promise<void>((r) => early.listen(0, '127.0.0.1', r));
    const p = await startHostileProxy({ upstreamPort: (early.address() as net.AddressInfo).port });
    try {
      const s = await rawSession(p.port);
      let text = '';
      s.socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.write('POST /early HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      const end = Date.now() + 10_000;
      while (!text.includes('part-of-the-body') && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      s.write(`zz\r\njunk\r\n0\r\n\r\n${SMUGGLED}`);
      const r = await s.result();
      expect(r.closed).toBe(true);
      expect(r.raw.toString('latin1').startsWith('HTTP/1.1 200 OK')).toBe(true);
      expect(r.raw.toString('latin1')).not.toContain('HTTP/1.1 400');
    } finally {
      await p.close();
      early.closeAllConnections();
      await new Promise<void>((r) => early.close(() => r()));
    }
  });
});

/** Each: what a hostile or broken HTTP/1 upstream answers. */
const UPSTREAM_ANSWERS: Readonly<Record<string, string>> = {
  'CL + TE': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled',
  'two Content-Lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 13\r\n\r\nhellosmuggled',
  'obs-fold': 'HTTP/1.1 200 OK\r\nX-A: b\r\n smuggled: 1\r\nContent-Length: 2\r\n\r\nok',
  'bare CR in a header value': 'HTTP/1.1 200 OK\r\nX-A: b\rSet-Cookie: smuggled=1\r\nContent-Length: 2\r\n\r\nok',
  'NUL in a header value': 'HTTP/1.1 200 OK\r\nX-A: b\x00smuggled\r\nContent-Length: 2\r\n\r\nok',
  'bare LF line endings': 'HTTP/1.1 200 OK\nX-Smuggled: b\nContent-Length: 2\n\nok',
  'TE: gzip, chunked (a coding the proxy would drop)': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n8\r\nsmuggled\r\n0\r\n\r\n',
  'an unsolicited 101': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nsmuggled raw bytes',
};

describe('RELIABILITY 1, toward the client: framing from a broken upstream never reaches the client', () => {
  let upstream: RawUpstream;
  let proxy: HostileProxy;
  const names = Object.keys(UPSTREAM_ANSWERS);

  beforeAll(async () => {
    upstream = await startRawUpstream((req, socket) => {
      const answer = UPSTREAM_ANSWERS[names[Number(req.path.slice(1))] ?? ''];
      socket.write(answer ?? 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    proxy = await startHostileProxy({ upstreamPort: upstream.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it.each(names.map((n, i) => [n, i] as const))('%s -> 502 upstream-protocol, nothing of it relayed', async (_name, i) => {
    const r = await rawExchange(proxy.port, `GET /${i} HTTP/1.1\r\nHost: example.test\r\n\r\nGET /healthy HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n`);
    expect(r.responses[0]?.status).toBe(502);
    expect(r.responses[0]?.headers['x-skein-error']).toBe('upstream-protocol');
    expect(r.raw.toString('latin1').toLowerCase()).not.toContain('smuggled');
    // The same client connection goes on: its next request is answered normally.
    expect(r.responses[1]?.status).toBe(200);
  });

  it('2000 informational 100s before the answer: the client gets just the final response', async () => {
    const p = await startRawUpstream((_req, socket) => socket.write(`${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(2000)}HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok`));
    const px = await startHostileProxy({ upstreamPort: p.port });
    try {
      const r = await rawExchange(px.port, 'GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
      expect(r.responses.map((x) => x.status)).toEqual([200]);
      expect(r.responses[0]!.body.toString()).toBe('ok');
    } finally {
      await px.close();
      await p.close();
    }
  });
});
