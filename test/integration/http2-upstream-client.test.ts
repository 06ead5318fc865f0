// Our HTTP/2 upstream client inside the proxy, against real node:http2 upstreams on loopback: request trailers forwarded,
// streams spread over several connections when the server's limit is reached, a GOAWAY'd request re-sent on a new one.
import http2 from 'node:http2';
import type net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestProxy, type TestProxy } from '../support/proxy-fixture.ts';

type Handler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, session: http2.ServerHttp2Session) => void;

/** A node:http2 upstream whose behaviour each test sets; counts the sessions (connections) it saw. */
let handler: Handler = () => {};
let upstream: http2.Http2Server;
let upstreamPort = 0;
const sessions = new Set<http2.ServerHttp2Session>();
let proxy: TestProxy;

beforeAll(async () => {
  upstream = http2.createServer({ settings: { maxConcurrentStreams: 5 } });
  upstream.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('error', () => {});
  });
  upstream.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    handler(stream, headers, stream.session as http2.ServerHttp2Session);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as net.AddressInfo).port;
  proxy = await startTestProxy({
    routes: [{ name: 'all', match: { path: { type: 'prefix', value: '/' } }, backends: [{ cluster: 'up' }] }],
    clusters: [{ name: 'up', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: upstreamPort }] }],
  });
});
afterAll(async () => {
  await proxy.close();
  for (const s of sessions) s.destroy();
  await new Promise<void>((r) => upstream.close(() => r()));
});
afterEach(() => {
  handler = () => {};
});

/** One request through the proxy over HTTP/2; resolves with status, body and trailers. */
function call(client: http2.ClientHttp2Session, path: string, body?: { data: string; trailers?: http2.OutgoingHttpHeaders }) {
  return new Promise<{ status: number; body: string; trailers: http2.IncomingHttpHeaders | null }>((resolve, reject) => {
    const req = client.request(
      { ':method': body ? 'POST' : 'GET', ':path': path, ...(body?.trailers ? { te: 'trailers' } : {}) },
      { endStream: !body, waitForTrailers: body?.trailers !== undefined },
    );
    if (body) {
      if (body.trailers) req.on('wantTrailers', () => req.sendTrailers(body.trailers!));
      req.end(body.data);
    }
    let status = 0;
    let text = '';
    let trailers: http2.IncomingHttpHeaders | null = null;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('trailers', (t) => (trailers = t));
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => resolve({ status, body: text, trailers }));
    req.on('error', reject);
  });
}

describe('HTTP/2 upstream client (our own) in the proxy', () => {
  it('forwards request trailers after the body, and response trailers back', async () => {
    let seen: { body: string; trailers: http2.IncomingHttpHeaders | null } | null = null;
    handler = (stream) => {
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (body += c));
      stream.on('trailers', (t) => (seen = { body, trailers: t }));
      stream.on('end', () => {
        seen ??= { body, trailers: null };
        stream.respond({ ':status': 200 }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-done': 'yes' }));
        stream.end('ok');
      });
    };
    const client = http2.connect(proxy.url);
    try {
      const res = await call(client, '/stream', { data: 'chunk-1,chunk-2', trailers: { 'x-checksum': 'c0ffee' } });
      expect(res.status).toBe(200);
      expect(res.body).toBe('ok');
      expect(res.trailers?.['x-done']).toBe('yes');
      expect(seen!.body).toBe('chunk-1,chunk-2');
      expect(seen!.trailers?.['x-checksum']).toBe('c0ffee');
    } finally {
      client.close();
    }
  });

  it('spreads 20 concurrent requests over 4 connections when the upstream takes 5 streams each', { timeout: 10_000 }, async () => {
    for (const s of sessions) s.close();
    sessions.clear();
    // Every request is held until all 20 are in: that only happens if the proxy opened enough connections.
    const held: http2.ServerHttp2Stream[] = [];
    const perSession = new Map<http2.ServerHttp2Session, number>();
    handler = (stream, _h, session) => {
      perSession.set(session, (perSession.get(session) ?? 0) + 1);
      held.push(stream);
      if (held.length === 20) for (const s of held) s.respond({ ':status': 200 }, { endStream: true });
    };
    const client = http2.connect(proxy.url);
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(client, `/held/${i}`)));
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(perSession.size).toBe(4);
      expect(Math.max(...perSession.values())).toBeLessThanOrEqual(5);
    } finally {
      client.close();
    }
  });

  it('a request the upstream refused with GOAWAY (above its last stream id) is sent again on a fresh connection', async () => {
    for (const s of sessions) s.close();
    sessions.clear();
    let goawaySent = false;
    handler = (stream, headers, session) => {
      if (headers[':path'] === '/second' && !goawaySent) {
        // GOAWAY naming only the stream before this one: this request was not processed.
        goawaySent = true;
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id! - 2);
        return;
      }
      stream.respond({ ':status': 200 });
      stream.end(String(headers[':path']));
    };
    const client = http2.connect(proxy.url);
    try {
      expect((await call(client, '/first')).body).toBe('/first');
      const second = await call(client, '/second');
      expect(second.status).toBe(200);
      expect(second.body).toBe('/second');
      expect(goawaySent).toBe(true);
      expect(sessions.size).toBe(2);
    } finally {
      client.close();
    }
  });
});
