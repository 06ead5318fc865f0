// RELIABILITY 13 — inputs that crash naive Node servers: hostile TLS/SNI, HEAD (and 204) answers with a body, writes after
// a peer reset, `__proto__` and friends as header names, errors on sockets nobody listens to. The process never exits.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FRAME,
  FrameReader,
  H2_ERROR,
  PREFACE,
  RawH2Connection,
  dataFrame,
  headerBlock,
  headersFrame,
  requestFields,
  responseStatus,
  rstStreamFrame,
  settingsFrame,
} from '../support/h2-frames.ts';
import { http1Get, http2Get, rawExchange } from '../support/raw-http.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';
import { makeTestCert, type TestCert } from '../support/test-cert.ts';

async function until(cond: () => boolean, deadlineMs = 10_000): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
}

/** A raw upstream that misbehaves by path. */
function misbehave(req: { method: string; path: string }, socket: net.Socket): void {
  if (req.method === 'HEAD') return void socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
  if (req.path === '/no-content-with-body') return void socket.write('HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello');
  if (req.path === '/reset-before-answer') return void socket.resetAndDestroy();
  if (req.path === '/big') {
    socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${8 * 1024 * 1024}\r\n\r\n`);
    const chunk = Buffer.alloc(65_536, 98);
    let left = 128;
    const pump = (): void => {
      while (left > 0 && !socket.destroyed) {
        left--;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    return pump();
  }
  const body = `ok ${req.path}`;
  socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
}

describe('RELIABILITY 13: inputs that crash naive Node servers', () => {
  let upstream: RawUpstream;
  let proxy: HostileProxy;

  beforeAll(async () => {
    upstream = await startRawUpstream((req, socket) => misbehave(req, socket));
    proxy = await startHostileProxy({ upstreamPort: upstream.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  const stillServes = async (): Promise<void> => {
    expect((await http1Get(proxy.port, '/healthy')).status).toBe(200);
    expect((await http2Get(proxy.port, '/healthy')).status).toBe(200);
  };

  describe('HEAD and 204 answers that carry a body', () => {
    it('HEAD: the client gets the headers only, and a request pipelined behind it is answered correctly', async () => {
      const r = await rawExchange(proxy.port, 'HEAD /h HTTP/1.1\r\nHost: example.test\r\n\r\nGET /after-head HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n', {
        headRequests: new Set([0]),
      });
      expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
      expect(r.responses[0]!.headers['content-length']).toBe('5');
      expect(r.responses[1]!.body.toString()).toBe('ok /after-head');
      expect(r.raw.toString('latin1')).not.toContain('hello');
      await stillServes();
    });

    it('HEAD over HTTP/2: HEADERS with END_STREAM and no DATA', async () => {
      const c = await RawH2Connection.open(proxy.port);
      try {
        c.send(headersFrame(1, headerBlock(requestFields('/h2-head', 'example.test', 'HEAD')), { endStream: true }));
        const h = await c.waitForFrame((f) => f.type === FRAME.HEADERS && f.streamId === 1);
        expect(responseStatus(h!.payload)).toBe(200);
        await c.waitForFrame((f) => f.streamId === 1 && (f.flags & 1) === 1);
        expect(c.framesOn(1).filter((f) => f.type === FRAME.DATA && f.payload.length > 0)).toHaveLength(0);
      } finally {
        c.destroy();
      }
    });

    it('the poisoned upstream connection is never reused: the following requests get their own answers', async () => {
      for (let i = 0; i < 3; i++) {
        await rawExchange(proxy.port, `HEAD /h${i} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n`, { headRequests: new Set([0]) });
        const g = await http1Get(proxy.port, `/next-${i}`);
        expect(g.status).toBe(200);
        expect(g.body).toBe(`ok /next-${i}`);
      }
    });

    it('204 with a body: the client gets a bodiless 204', async () => {
      const r = await rawExchange(proxy.port, 'GET /no-content-with-body HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
      expect(r.responses[0]?.status).toBe(204);
      expect(r.raw.toString('latin1')).not.toContain('hello');
      await stillServes();
    });
  });

  describe('writes after a peer reset', () => {
    it('HTTP/1 clients that reset while an 8 MiB response streams to them', async () => {
      for (let i = 0; i < 10; i++) {
        const s = net.connect({ host: '127.0.0.1', port: proxy.port });
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        s.write('GET /big HTTP/1.1\r\nHost: example.test\r\n\r\n');
        await new Promise((r) => s.once('data', r));
        s.resetAndDestroy();
      }
      expect(await until(() => proxy.proxy.runtime.inFlight === 0)).toBe(true);
      await stillServes();
    });

    it('HTTP/2 clients that RST the stream, or reset the TCP connection, mid-response', async () => {
      for (let i = 0; i < 10; i++) {
        const c = await RawH2Connection.open(proxy.port);
        c.send(headersFrame(1, headerBlock(requestFields('/big')), { endStream: true }));
        await c.waitForFrame((f) => f.type === FRAME.DATA && f.streamId === 1);
        if (i % 2 === 0) c.send(rstStreamFrame(1, H2_ERROR.CANCEL));
        else c.socket.resetAndDestroy();
        c.destroy();
      }
      expect(await until(() => proxy.proxy.runtime.inFlight === 0)).toBe(true);
      await stillServes();
    });

    it('a client that resets right after sending a request (the response is written into a dead socket)', async () => {
      for (let i = 0; i < 20; i++) {
        const s = net.connect({ host: '127.0.0.1', port: proxy.port });
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        s.write(`GET /quick-${i} HTTP/1.1\r\nHost: example.test\r\n\r\n`);
        s.resetAndDestroy();
      }
      expect(await until(() => proxy.proxy.runtime.inFlight === 0)).toBe(true);
      await stillServes();
    });
  });

  describe('__proto__ and other Object.prototype names as header names', () => {
    const NAMES = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__'];

    it('HTTP/1: forwarded as ordinary headers, `__proto__` included (as over HTTP/2), nothing polluted', async () => {
      const lines = NAMES.map((n) => `${n}: {"polluted":true}`).join('\r\n');
      const r = await rawExchange(proxy.port, `GET /proto HTTP/1.1\r\nHost: example.test\r\n${lines}\r\nConnection: close\r\n\r\n`);
      expect(r.responses[0]?.status).toBe(200);
      const got = upstream.requests.find((q) => q.path === '/proto')!;
      // Skein's HTTP/1 parser keeps headers in a null-prototype object: __proto__ is an ordinary name there.
      for (const n of NAMES) expect(got.headers.find(([k]) => k === n.toLowerCase())?.[1], n).toBe('{"polluted":true}');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.toString.call({})).toBe('[object Object]');
      await stillServes();
    });

    it('HTTP/2: forwarded as ordinary headers, `__proto__` included, nothing polluted', async () => {
      const c = await RawH2Connection.open(proxy.port);
      try {
        c.send(headersFrame(1, headerBlock([...requestFields('/proto-h2'), ...NAMES.map((n) => [n.toLowerCase(), 'x'] as [string, string])]), { endStream: true }));
        const h = await c.waitForFrame((f) => f.type === FRAME.HEADERS && f.streamId === 1);
        expect(responseStatus(h!.payload)).toBe(200);
      } finally {
        c.destroy();
      }
      expect(upstream.requests.find((q) => q.path === '/proto-h2')!.headers.find(([k]) => k === '__proto__')?.[1]).toBe('x');
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    });

    it('routes matching on headers named constructor / __proto__ only match when the request really has them', async () => {
      const p = await startHostileProxy({
        upstreamPort: upstream.port,
        routes: [
          { name: 'ctor', match: { headers: [{ name: 'constructor', type: 'present' }] }, directResponse: { status: 299, body: 'ctor' } },
          { name: 'proto', match: { headers: [{ name: '__proto__', type: 'prefix', value: 'y' }] }, directResponse: { status: 298, body: 'proto' } },
        ],
      });
      try {
        // Without those headers: the catch-all, not an inherited Object.prototype member and not a 500.
        expect((await http1Get(p.port, '/plain')).status).toBe(200);
        expect((await http2Get(p.port, '/plain')).status).toBe(200);
        const withCtor = await rawExchange(p.port, 'GET /r HTTP/1.1\r\nHost: example.test\r\nconstructor: x\r\nConnection: close\r\n\r\n');
        expect(withCtor.responses[0]?.status).toBe(299);
        const c = await RawH2Connection.open(p.port);
        try {
          c.send(headersFrame(1, headerBlock([...requestFields('/r'), ['__proto__', 'yes']]), { endStream: true }));
          const h = await c.waitForFrame((f) => f.type === FRAME.HEADERS && f.streamId === 1);
          expect(responseStatus(h!.payload)).toBe(298);
        } finally {
          c.destroy();
        }
      } finally {
        await p.close();
      }
    });

    it('ring hash on a header named constructor: requests without it are still balanced, not failed', async () => {
      const p = await startHostileProxy({ upstreamPort: upstream.port, loadBalancer: { policy: 'ring-hash', hashOn: { type: 'header', name: 'constructor' } } });
      try {
        expect((await http1Get(p.port, '/hash')).status).toBe(200);
        expect((await http2Get(p.port, '/hash')).status).toBe(200);
      } finally {
        await p.close();
      }
    });
  });

  describe('errors on sockets nobody listens to', () => {
    it('connections reset at every stage: before a byte, mid request line, after the HTTP/2 preface, mid TLS', async () => {
      const stages: (string | Buffer)[] = ['', 'GE', 'GET /x HTTP/1.1\r\nHo', PREFACE, Buffer.concat([PREFACE, settingsFrame()]), Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])];
      for (let round = 0; round < 5; round++) {
        for (const bytes of stages) {
          const s = net.connect({ host: '127.0.0.1', port: proxy.port });
          s.on('error', () => {});
          await new Promise((r) => s.once('connect', r));
          if (bytes.length > 0) await new Promise((r) => s.write(bytes, r));
          s.resetAndDestroy();
        }
      }
      await stillServes();
    });

    it('the upstream resets a request before answering: 502 upstream-reset, not a crash', async () => {
      const g = await http1Get(proxy.port, '/reset-before-answer');
      expect(g.status).toBe(502);
      expect(g.headers['x-skein-error']).toBe('upstream-reset');
      await stillServes();
    });

    it('idle pooled upstream connections reset by the upstream: the next request still succeeds', async () => {
      const conns = new Set<net.Socket>();
      const up = http.createServer((_req, res) => res.end('fine'));
      up.on('connection', (s: net.Socket) => conns.add(s));
      await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
      const p = await startHostileProxy({ upstreamPort: (up.address() as net.AddressInfo).port });
      try {
        expect((await http1Get(p.port, '/warm')).body).toBe('fine');
        for (const s of conns) s.resetAndDestroy(); // the pooled, idle connection dies under the proxy
        for (let i = 0; i < 3; i++) expect((await http1Get(p.port, `/again-${i}`)).body).toBe('fine');
      } finally {
        await p.close();
        up.closeAllConnections();
        await new Promise<void>((r) => up.close(() => r()));
      }
    });

    it('an HTTP/2 upstream that sends junk on an idle session, or resets it: the next request opens a new session', async () => {
      // A minimal raw HTTP/2 server: answers each request with :status 200 (static index 8) and "h2 fine"; the test
      // then misbehaves on the idle connection through `sockets`.
      const sockets: net.Socket[] = [];
      const up = net.createServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => {});
        socket.once('end', () => socket.destroy());
        const reader = new FrameReader();
        let prefaceSeen = false;
        let pending = Buffer.alloc(0);
        socket.write(settingsFrame());
        socket.on('data', (d: Buffer) => {
          if (!prefaceSeen) {
            pending = Buffer.concat([pending, d]);
            if (pending.length < PREFACE.length) return;
            prefaceSeen = true;
            d = pending.subarray(PREFACE.length);
          }
          for (const f of reader.push(d)) {
            if (f.type === FRAME.SETTINGS && (f.flags & 1) === 0) socket.write(settingsFrame([], true));
            if (f.type === FRAME.HEADERS) {
              socket.write(Buffer.concat([headersFrame(f.streamId, Buffer.from([0x88])), dataFrame(f.streamId, 'h2 fine', true)]));
            }
          }
        });
      });
      await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
      const p = await startHostileProxy({ upstreamPort: (up.address() as net.AddressInfo).port, upstreamProtocol: 'http2' });
      try {
        expect((await http1Get(p.port, '/first')).body).toBe('h2 fine');
        sockets[0]!.write('this is not an HTTP/2 frame, just junk bytes......');
        expect(await until(() => sockets[0]!.destroyed)).toBe(true); // the proxy gave up on that session
        expect((await http1Get(p.port, '/after-junk')).body).toBe('h2 fine');
        sockets[1]!.resetAndDestroy();
        expect((await http1Get(p.port, '/after-reset')).body).toBe('h2 fine');
        expect(sockets.length).toBe(3);
      } finally {
        await p.close();
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => up.close(() => r()));
      }
    });
  });

  describe('hostile TLS at a TLS listener (single certificate, no SNI callback to throw)', () => {
    let cert: TestCert;
    let tlsProxy: HostileProxy;

    beforeAll(async () => {
      cert = makeTestCert(['api.test']);
      tlsProxy = await startHostileProxy({ upstreamPort: upstream.port, mode: 'ingress', direction: 'ingress', tls: { certFile: cert.certFile, keyFile: cert.keyFile } });
    });
    afterAll(async () => {
      await tlsProxy?.close();
      cert?.remove();
    });

    async function tlsGet(servername: string | undefined): Promise<number> {
      const socket = tls.connect({ host: '127.0.0.1', port: tlsProxy.port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(servername ? { servername } : {}) });
      socket.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', () => resolve());
        socket.once('close', () => reject(new Error('closed before handshake')));
      });
      socket.write('GET /over-tls HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n');
      let raw = '';
      socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
      await new Promise((r) => socket.once('close', r));
      return Number(raw.split(' ')[1]);
    }

    it.each([
      ['a TLS record header announcing 64 KiB then closing', Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01])],
      ['a ClientHello that is all garbage', Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), Buffer.alloc(0x40, 0xee)])],
      ['a record of an unknown content type after TLS-looking bytes', Buffer.from([0x16, 0x03, 0x03, 0x00, 0x02, 0xde, 0xad, 0x99, 0x03, 0x03, 0x00, 0x00])],
      ['plaintext HTTP sent to the TLS listener', Buffer.from('GET / HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n')],
    ])('%s: no crash, the listener keeps serving TLS', async (_name, bytes) => {
      await rawExchange(tlsProxy.port, bytes);
      expect(await tlsGet('api.test')).toBe(200);
    });

    it('SNI values a naive callback would choke on (very long, IP-like, another name) and no SNI at all', async () => {
      const results: number[] = [];
      for (const sni of ['a'.repeat(250) + '.test', 'xn--nxasmq6b.test', 'other.test', undefined]) {
        results.push(await tlsGet(sni));
      }
      // A Host that differs from the SNI is misdirected (421); no SNI means no check.
      expect(results).toEqual([421, 421, 421, 200]);
    });

    it('a handshake abandoned half-way, many times over', async () => {
      for (let i = 0; i < 20; i++) {
        const socket = tls.connect({ host: '127.0.0.1', port: tlsProxy.port, servername: 'api.test', rejectUnauthorized: false });
        socket.on('error', () => {});
        socket.once('secureConnect', () => socket.destroy());
        await new Promise<void>((r) => {
          socket.once('data', () => socket.destroy());
          setImmediate(() => socket.destroy());
          socket.once('close', () => r());
        });
      }
      expect(await tlsGet('api.test')).toBe(200);
    });
  });
});
