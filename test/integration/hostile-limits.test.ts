// RELIABILITY 10 — limit abuse: header count and size (431 on HTTP/1, stream reset on HTTP/2, never truncation),
// HTTP/2 concurrent streams, and connection floods past maxConnectionsPerListener.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../api/config/proxy-config-defaults.ts';
import {
  FRAME,
  H2_ERROR,
  RawH2Connection,
  continuationFrame,
  errorCodeOf,
  headerBlock,
  headersFrame,
  requestFields,
  responseStatus,
} from '../support/h2-frames.ts';
import { http1Get, http2Get, rawExchange } from '../support/raw-http.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';

const MAX_HEADERS = DEFAULT_LIMITS.sidecar.maxHeaderCount; // 100
const MAX_HEADER_BYTES = DEFAULT_LIMITS.sidecar.maxRequestHeaderBytes; // 64 KiB

function h1WithHeaders(path: string, count: number): string {
  // Host counts as one of the headers.
  let s = `GET ${path} HTTP/1.1\r\nHost: example.test\r\n`;
  for (let i = 1; i < count; i++) s += `X-H${i}: v\r\n`;
  return `${s}\r\n`;
}

function h2Fields(path: string, regular: number, valueSize = 1): [string, string][] {
  const f = requestFields(path);
  for (let i = 0; i < regular; i++) f.push([`x-h${i}`, 'v'.repeat(valueSize)]);
  return f;
}

/** Splits a header block over HEADERS + CONTINUATION frames of at most 16 KiB. */
function headerFrames(streamId: number, block: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let off = 0; off < block.length; off += 16_384) {
    const chunk = block.subarray(off, off + 16_384);
    const last = off + 16_384 >= block.length;
    out.push(off === 0 ? headersFrame(streamId, chunk, { endStream: true, endHeaders: last }) : continuationFrame(streamId, chunk, last));
  }
  return Buffer.concat(out);
}

describe('RELIABILITY 10: limits', () => {
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
  const seen = (path: string): number => upstream.requests.filter((q) => q.path === path).length;

  describe('header count and size on HTTP/1 -> 431, never silent truncation', () => {
    it(`exactly ${MAX_HEADERS} headers are forwarded, every one of them`, async () => {
      const r = await rawExchange(proxy.port, h1WithHeaders('/count-ok', MAX_HEADERS), { responses: 1 });
      expect(r.responses[0]?.status).toBe(200);
      const got = upstream.requests.find((q) => q.path === '/count-ok')!;
      expect(got.headers.filter(([k]) => k.startsWith('x-h'))).toHaveLength(MAX_HEADERS - 1);
    });

    it.each([MAX_HEADERS + 1, 500, 5_000])('%i headers -> 431 headers-too-large, closed, nothing forwarded', async (count) => {
      const path = `/count-${count}`;
      const r = await rawExchange(proxy.port, h1WithHeaders(path, count));
      expect(r.responses[0]?.status).toBe(431);
      expect(r.responses[0]?.headers['x-skein-error']).toBe('headers-too-large');
      expect(r.closed).toBe(true);
      expect(seen(path)).toBe(0);
      expect((await http1Get(proxy.port)).status).toBe(200);
    });

    it(`a header block over ${MAX_HEADER_BYTES} bytes -> 431, closed`, async () => {
      const r = await rawExchange(proxy.port, `GET /big-head HTTP/1.1\r\nHost: example.test\r\nX-Big: ${'a'.repeat(MAX_HEADER_BYTES + 1_000)}\r\n\r\n`);
      expect(r.responses[0]?.status).toBe(431);
      expect(r.responses[0]?.headers['x-skein-error']).toBe('headers-too-large');
      expect(r.closed).toBe(true);
      expect(seen('/big-head')).toBe(0);
    });
  });

  describe('header count and size on HTTP/2 -> stream reset', () => {
    it(`${MAX_HEADERS} regular headers are forwarded`, async () => {
      const c = await RawH2Connection.open(proxy.port);
      try {
        c.send(headersFrame(1, headerBlock(h2Fields('/h2-count-ok', MAX_HEADERS)), { endStream: true }));
        const h = await c.waitForFrame((f) => f.type === FRAME.HEADERS && f.streamId === 1);
        expect(responseStatus(h!.payload)).toBe(200);
      } finally {
        c.destroy();
      }
      const got = upstream.requests.find((q) => q.path === '/h2-count-ok')!;
      expect(got.headers.filter(([k]) => k.startsWith('x-h'))).toHaveLength(MAX_HEADERS);
    });

    it.each([MAX_HEADERS + 1, 1_000])('%i regular headers -> RST_STREAM(ENHANCE_YOUR_CALM), nothing forwarded, connection still usable', async (count) => {
      const path = `/h2-count-${count}`;
      const c = await RawH2Connection.open(proxy.port);
      try {
        await c.handshake();
        c.send(headerFrames(1, headerBlock(h2Fields(path, count))));
        const f = await c.waitForReset(1);
        expect(f?.type).toBe(FRAME.RST_STREAM);
        expect(errorCodeOf(f!)).toBe(H2_ERROR.ENHANCE_YOUR_CALM);
        c.send(headersFrame(3, headerBlock(requestFields('/h2-next')), { endStream: true }));
        const h = await c.waitForFrame((x) => x.type === FRAME.HEADERS && x.streamId === 3);
        expect(responseStatus(h!.payload)).toBe(200);
      } finally {
        c.destroy();
      }
      expect(seen(path)).toBe(0);
    });

    it(`a header list over ${MAX_HEADER_BYTES} bytes -> RST_STREAM(ENHANCE_YOUR_CALM)`, async () => {
      const c = await RawH2Connection.open(proxy.port);
      try {
        await c.handshake();
        c.send(headerFrames(1, headerBlock(h2Fields('/h2-big-head', 10, 7_000))));
        const f = await c.waitForReset(1);
        expect(f?.type).toBe(FRAME.RST_STREAM);
        expect(errorCodeOf(f!)).toBe(H2_ERROR.ENHANCE_YOUR_CALM);
      } finally {
        c.destroy();
      }
      expect(seen('/h2-big-head')).toBe(0);
      expect((await http2Get(proxy.port)).status).toBe(200);
    });
  });

  it(`HTTP/2: a stream past max concurrent streams (${DEFAULT_LIMITS.sidecar.http2MaxConcurrentStreams}) -> GOAWAY(PROTOCOL_ERROR) naming the last accepted stream; the extra one is never forwarded`, async () => {
    // An upstream that accepts and never answers keeps every stream open.
    const held = new Set<net.Socket>();
    let seenText = '';
    const silent = net.createServer((s) => {
      held.add(s);
      s.on('data', (d: Buffer) => (seenText += d.toString('latin1')));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const p = await startHostileProxy({ upstreamPort: (silent.address() as net.AddressInfo).port });
    const max = DEFAULT_LIMITS.sidecar.http2MaxConcurrentStreams;
    try {
      const c = await RawH2Connection.open(p.port);
      await c.handshake();
      const frames: Buffer[] = [];
      for (let i = 0; i <= max; i++) frames.push(headersFrame(1 + 2 * i, headerBlock(requestFields(`/held-${i}/`)), { endStream: true }));
      await c.sendAndFlush(Buffer.concat(frames));
      // Once our SETTINGS ACK is in, nghttp2 treats the 101st open stream as a connection error (before it, REFUSED_STREAM).
      const g = await c.waitForFrame((f) => f.type === FRAME.GOAWAY);
      expect(g && errorCodeOf(g)).toBe(H2_ERROR.PROTOCOL_ERROR);
      expect(g!.payload.readUInt32BE(0) & 0x7fffffff).toBe(1 + 2 * (max - 1));
      expect(await c.waitClosed()).toBe(true);
      expect(seenText).not.toContain(`/held-${max}/`);
      expect(held.size).toBeLessThanOrEqual(max);
    } finally {
      await p.close();
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
    expect((await http2Get(proxy.port)).status).toBe(200);
  });

  it('a connection flood past maxConnectionsPerListener: extra connections are dropped unanswered; capacity returns when others close', async () => {
    const cap = 20;
    const p = await startHostileProxy({ upstreamPort: upstream.port, limits: { maxConnectionsPerListener: cap, headersTimeoutMs: 60_000 } });
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < cap; i++) {
        const s = net.connect({ host: '127.0.0.1', port: p.port });
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        held.push(s);
      }
      // Make sure the proxy has accepted all of them (each answers a request once it has).
      for (const s of held.slice(0, 1)) {
        s.write('GET /held HTTP/1.1\r\nHost: example.test\r\n\r\n');
        await new Promise((r) => s.once('data', r));
      }
      // Past the cap: accepted by the kernel, closed by the proxy without a byte.
      for (let i = 0; i < 5; i++) {
        const r = await rawExchange(p.port, 'GET /over-cap HTTP/1.1\r\nHost: example.test\r\n\r\n');
        expect(r.closed).toBe(true);
        expect(r.raw.length).toBe(0);
      }
      expect(upstream.requests.filter((q) => q.path === '/over-cap')).toHaveLength(0);
      // Free some capacity: new connections are served again.
      for (const s of held.splice(0, 5)) s.destroy();
      let ok = 0;
      for (let i = 0; i < 200 && ok === 0; i++) {
        const r = await rawExchange(p.port, 'GET /after-cap HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
        if (r.responses[0]?.status === 200) ok++;
        else await new Promise((res) => setTimeout(res, 10));
      }
      expect(ok).toBe(1);
    } finally {
      for (const s of held) s.destroy();
      await p.close();
    }
    expect((await http1Get(proxy.port)).status).toBe(200);
  });

  describe('HTTP/1.1 pipelining floods', () => {
    it('thousands of pipelined requests in one packet: the connection is closed, the upstream sees at most the first', async () => {
      const before = upstream.requests.length;
      const flood = Array.from({ length: 5_000 }, (_, i) => `GET /pipelined-${i} HTTP/1.1\r\nHost: example.test\r\n\r\n`).join('');
      const r = await rawExchange(proxy.port, flood);
      expect(r.closed).toBe(true);
      expect(upstream.requests.length - before).toBeLessThanOrEqual(1);
      expect(await until(() => proxy.proxy.runtime.inFlight === 0)).toBe(true);
      expect((await http1Get(proxy.port)).status).toBe(200);
    });

    it('pipelined requests are forwarded one at a time per connection and answered in order', async () => {
      let outstanding = 0;
      let maxOutstanding = 0;
      const slow = await startRawUpstream((req, socket) => {
        outstanding++;
        maxOutstanding = Math.max(maxOutstanding, outstanding);
        setTimeout(() => {
          outstanding--;
          const body = `answer ${req.path}`;
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        }, 5);
      });
      const p = await startHostileProxy({ upstreamPort: slow.port });
      try {
        const n = 20;
        const batch = Array.from({ length: n }, (_, i) => `GET /in-order-${i} HTTP/1.1\r\nHost: example.test\r\n\r\n`).join('');
        const r = await rawExchange(p.port, batch, { responses: n, deadlineMs: 15_000 });
        expect(r.responses.map((x) => x.body.toString())).toEqual(Array.from({ length: n }, (_, i) => `answer /in-order-${i}`));
        expect(maxOutstanding).toBe(1);
      } finally {
        await p.close();
        await slow.close();
      }
    });
  });
});

async function until(cond: () => boolean, deadlineMs = 10_000): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
}
