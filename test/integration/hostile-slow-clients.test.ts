// RELIABILITY 9 — slowloris, slow POST, slow read, HTTP/2 zero window: cut at the (small, test-configured) timeouts, bounded buffering.
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FRAME, H2_ERROR, RawH2Connection, SETTING, errorCodeOf, headerBlock, headersFrame, requestFields } from '../support/h2-frames.ts';
import { http1Get, http2Get, rawExchange, rawSession } from '../support/raw-http.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';

const LIMITS = { headersTimeoutMs: 500, requestIdleTimeoutMs: 1_000, connectionIdleTimeoutMs: 2_000 };
const BIG = 256 * 1024 * 1024;
/** Far above any timeout above: the deadline only stops a broken test from hanging, it is never the thing asserted. */
const DEADLINE = 15_000;

async function until(cond: () => boolean, deadlineMs = DEADLINE): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
}

describe('RELIABILITY 9: slow clients', () => {
  let upstream: http.Server;
  let proxy: HostileProxy;
  /** Bytes the upstream managed to hand to its socket for /big: bounded when the proxy applies back-pressure. */
  let bigWritten = 0;
  let bigCutShort = 0;
  let uploadsCompleted = 0;
  let uploadsAborted = 0;

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      if (req.url === '/big') {
        const chunk = Buffer.alloc(65_536, 97);
        res.once('close', () => {
          if (!res.writableFinished) bigCutShort++;
        });
        const pump = (): void => {
          while (bigWritten < BIG && !res.destroyed) {
            bigWritten += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.once('aborted', () => uploadsAborted++);
      req.once('end', () => {
        uploadsCompleted++;
        res.end(`got ${n}`);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    proxy = await startHostileProxy({
      upstreamPort: (upstream.address() as net.AddressInfo).port,
      limits: LIMITS,
      routes: [{ name: 'timed', match: { path: { type: 'prefix', value: '/timed' } }, backends: [{ cluster: 'up' }], timeoutMs: 1_500 }],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    upstream?.closeAllConnections();
    await new Promise<void>((r) => upstream?.close(() => r()));
  });
  beforeEach(() => {
    bigWritten = 0;
    bigCutShort = 0;
  });

  const stillServes = async (): Promise<void> => {
    expect((await http1Get(proxy.port, '/healthy')).status).toBe(200);
    expect((await http2Get(proxy.port, '/healthy')).status).toBe(200);
  };

  it('slowloris: header lines trickled forever -> 408 timeout and closed at headersTimeout', async () => {
    const s = await rawSession(proxy.port, { deadlineMs: DEADLINE });
    s.write('GET /loris HTTP/1.1\r\nHost: example.test\r\n');
    const trickle = setInterval(() => s.write('X-Loris: 1\r\n'), 50);
    const r = await s.result();
    clearInterval(trickle);
    expect(r.closed).toBe(true);
    expect(r.responses[0]?.status).toBe(408);
    expect(r.responses[0]?.headers['x-skein-error']).toBe('timeout');
    await stillServes();
  });

  it('slowloris on a kept-alive connection: the second request head is cut the same way', async () => {
    const s = await rawSession(proxy.port, { deadlineMs: DEADLINE });
    s.write('GET /first HTTP/1.1\r\nHost: example.test\r\n\r\n');
    s.write('GET /second HTTP/1.1\r\nHost: example.test\r\n');
    const trickle = setInterval(() => s.write('X-Loris: 1\r\n'), 50);
    const r = await s.result();
    clearInterval(trickle);
    expect(r.closed).toBe(true);
    expect(r.responses.map((x) => x.status)).toEqual([200, 408]);
  });

  it.each([
    ['nothing at all', ''],
    ['one byte of a method', 'G'],
    ['half an HTTP/2 preface', 'PRI * HTTP/2.0\r\n'],
  ])('a connection that sends %s is closed at headersTimeout, unanswered', async (_name, bytes) => {
    const r = await rawExchange(proxy.port, bytes, { deadlineMs: DEADLINE });
    expect(r.closed).toBe(true);
    expect(r.raw.length).toBe(0);
    await stillServes();
  });

  it('HTTP/2 slowloris (a header block never finished): GOAWAY and closed at the connection idle timeout', async () => {
    const c = await RawH2Connection.open(proxy.port);
    await c.handshake();
    c.send(headersFrame(1, headerBlock(requestFields('/h2-loris')), { endStream: true, endHeaders: false }));
    expect(await c.waitClosed(DEADLINE)).toBe(true);
    expect(c.goaway()).toBeDefined();
    await stillServes();
  });

  it('slow POST that stalls mid-body: connection closed at the request idle timeout, upstream request aborted, nothing left in flight', async () => {
    const abortedBefore = uploadsAborted;
    const completedBefore = uploadsCompleted;
    const s = await rawSession(proxy.port, { deadlineMs: DEADLINE });
    s.write('POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 1000\r\n\r\npartial');
    const r = await s.result();
    expect(r.closed).toBe(true);
    expect(await until(() => uploadsAborted > abortedBefore)).toBe(true);
    expect(uploadsCompleted).toBe(completedBefore);
    expect(await until(() => proxy.proxy.runtime.inFlight === 0)).toBe(true);
    await stillServes();
  });

  it('slow POST that trickles (never idle) is cut by the route timeout: 504 timeout', async () => {
    const s = await rawSession(proxy.port, { deadlineMs: DEADLINE, responses: 1 });
    s.write('POST /timed HTTP/1.1\r\nHost: example.test\r\nContent-Length: 100000\r\n\r\n');
    const trickle = setInterval(() => s.write('a'), 50);
    const r = await s.result();
    clearInterval(trickle);
    s.socket.destroy();
    expect(r.responses[0]?.status).toBe(504);
    expect(r.responses[0]?.headers['x-skein-error']).toBe('timeout');
    await stillServes();
  });

  it('slow read (HTTP/1 client never reads a 256 MB response): back-pressure bounds what the upstream can push; cut at the idle timeout', async () => {
    const sock = net.connect({ host: '127.0.0.1', port: proxy.port });
    sock.on('error', () => {});
    await new Promise((r) => sock.once('connect', r));
    sock.pause();
    sock.write('GET /big HTTP/1.1\r\nHost: example.test\r\n\r\n');
    // The proxy gives up on the stalled client, which aborts the upstream response part-way.
    expect(await until(() => bigCutShort === 1)).toBe(true);
    sock.destroy();
    // Only socket buffers and stream high-water marks hold data: nowhere near the 256 MB the upstream wanted to send.
    expect(bigWritten).toBeLessThan(64 * 1024 * 1024);
    expect(await until(() => proxy.proxy.runtime.inFlight === 0)).toBe(true);
    await stillServes();
  });

  it('HTTP/2 zero window (INITIAL_WINDOW_SIZE 0, no WINDOW_UPDATE): RST_STREAM(CANCEL) at the idle timeout, no DATA, upstream bounded and aborted', async () => {
    const c = await RawH2Connection.open(proxy.port, { settings: [[SETTING.INITIAL_WINDOW_SIZE, 0]] });
    try {
      await c.handshake();
      c.send(headersFrame(1, headerBlock(requestFields('/big')), { endStream: true }));
      const f = await c.waitForReset(1, DEADLINE);
      expect(f?.type).toBe(FRAME.RST_STREAM);
      expect(errorCodeOf(f!)).toBe(H2_ERROR.CANCEL);
      expect(c.framesOn(1).filter((x) => x.type === FRAME.DATA)).toHaveLength(0);
    } finally {
      c.destroy();
    }
    expect(await until(() => bigCutShort === 1)).toBe(true);
    expect(bigWritten).toBeLessThan(64 * 1024 * 1024);
    await stillServes();
  });
});
