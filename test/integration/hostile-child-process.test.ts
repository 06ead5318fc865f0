// "Never exits": the real `skein proxy` process takes one attack from each hostile group, keeps serving, logs no
// uncaught exception (the process handler would hide a crash), and still drains and exits 0 on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FRAME,
  H2_ERROR,
  RawH2Connection,
  continuationFrame,
  dataFrame,
  headerBlock,
  headersFrame,
  hpackIndexed,
  hpackLiteral,
  hpackLiteralIndexed,
  pingFrame,
  requestFields,
  rstStreamFrame,
  windowUpdateFrame,
} from '../support/h2-frames.ts';
import { http1Get, http2Get, rawExchange, rawSession } from '../support/raw-http.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';
import { hostileConfigDocument } from '../support/start-proxy.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const repeat = (n: number, f: (i: number) => Buffer): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => f(i)));

interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [k: string]: unknown;
}

describe('the proxy as a child process survives every hostile group', () => {
  let upstream: RawUpstream;
  let dir: string;
  let child: ChildProcess;
  const logs: LogLine[] = [];
  let exit: Promise<number | null>;
  let port = 0;
  let adminPort = 0;

  beforeAll(async () => {
    upstream = await startRawUpstream((req, socket) => {
      if (req.method === 'HEAD') return void socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
      const body = `ok ${req.path}`;
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    });
    dir = mkdtempSync(join(tmpdir(), 'skein-hostile-'));
    const file = join(dir, 'proxy.json');
    writeFileSync(file, JSON.stringify(hostileConfigDocument({ upstreamPort: upstream.port, limits: { headersTimeoutMs: 500 } })));
    child = spawn(process.execPath, [join(ROOT, 'bin/skein.mjs'), 'proxy', '--config', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let buf = '';
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          logs.push(JSON.parse(line) as LogLine);
        } catch {
          logs.push({ level: 'raw', msg: line });
        }
      }
    });
    child.stdout!.resume();
    const end = Date.now() + 30_000;
    while ((port === 0 || adminPort === 0) && Date.now() < end && child.exitCode === null) {
      for (const l of logs) {
        const a = typeof l.address === 'string' ? Number(l.address.split(':').pop()) : 0;
        if (l.msg === 'listening') port = a;
        if (l.msg === 'admin listening') adminPort = a;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (port === 0) throw new Error(`proxy did not start: ${JSON.stringify(logs)}`);
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await upstream?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const stillAlive = async (): Promise<void> => {
    expect(child.exitCode).toBeNull();
    expect((await http1Get(port, '/healthy')).status).toBe(200);
    expect((await http2Get(port, '/healthy')).status).toBe(200);
  };

  const attacks: readonly (readonly [string, () => Promise<void>])[] = [
    ['HTTP/1 desync (CL+TE)', async () => {
      const r = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n');
      expect(r.responses[0]?.status).toBe(400);
    }],
    ['HTTP/2 header injection', async () => {
      const c = await RawH2Connection.open(port);
      c.send(headersFrame(1, headerBlock([...requestFields('/x'), ['connection', 'close']]), { endStream: true }));
      expect((await c.waitForReset(1))?.type).toBe(FRAME.RST_STREAM);
      c.destroy();
    }],
    ['HTTP/2 rapid reset', async () => {
      const c = await RawH2Connection.open(port);
      await c.sendAndFlush(repeat(3000, (i) => Buffer.concat([headersFrame(1 + 2 * i, headerBlock(requestFields('/rr'))), rstStreamFrame(1 + 2 * i, H2_ERROR.CANCEL)])));
      expect(await c.waitClosed()).toBe(true);
    }],
    ['HTTP/2 CONTINUATION flood', async () => {
      const c = await RawH2Connection.open(port);
      await c.handshake();
      c.send(headersFrame(1, headerBlock(requestFields('/c')), { endHeaders: false }));
      await c.sendAndFlush(repeat(5000, (i) => continuationFrame(1, hpackLiteral(`x-${i}`, 'v'), false)));
      expect(await c.waitClosed()).toBe(true);
    }],
    ['HTTP/2 PING flood and WINDOW_UPDATE overflow', async () => {
      const c = await RawH2Connection.open(port);
      await c.sendAndFlush(repeat(20_000, () => pingFrame()));
      expect(await c.waitClosed()).toBe(true);
      const d = await RawH2Connection.open(port);
      d.send(windowUpdateFrame(0, 0x7fffffff), windowUpdateFrame(0, 0x7fffffff));
      expect(await d.waitClosed()).toBe(true);
    }],
    ['HPACK bomb', async () => {
      const c = await RawH2Connection.open(port);
      await c.handshake();
      const block = Buffer.concat([headerBlock(requestFields('/bomb')), hpackLiteralIndexed('x-bomb', 'a'.repeat(4000)), repeat(3000, () => hpackIndexed(62))]);
      const frames: Buffer[] = [];
      for (let off = 0; off < block.length; off += 16_000) {
        const chunk = block.subarray(off, off + 16_000);
        frames.push(off === 0 ? headersFrame(1, chunk, { endStream: true, endHeaders: false }) : continuationFrame(1, chunk, off + 16_000 >= block.length));
      }
      await c.sendAndFlush(Buffer.concat(frames));
      expect(await c.waitForReset(1)).not.toBeNull();
      c.destroy();
    }],
    ['slowloris', async () => {
      const s = await rawSession(port, { deadlineMs: 15_000 });
      s.write('GET / HTTP/1.1\r\nHost: a\r\n');
      const t = setInterval(() => s.write('X-A: b\r\n'), 50);
      const r = await s.result();
      clearInterval(t);
      expect(r.responses[0]?.status).toBe(408);
    }],
    ['HEAD answered with a body, __proto__ header, content-length lie over HTTP/2', async () => {
      const r = await rawExchange(port, 'HEAD / HTTP/1.1\r\nHost: a\r\n__proto__: x\r\nConnection: close\r\n\r\n', { headRequests: new Set([0]) });
      expect(r.responses[0]?.status).toBe(200);
      const c = await RawH2Connection.open(port);
      c.send(headersFrame(1, headerBlock([...requestFields('/cl', 'a', 'POST'), ['content-length', '1']])), dataFrame(1, 'way too long', true));
      expect(await c.waitClosed()).toBe(true);
    }],
    ['connections reset at every stage', async () => {
      for (const bytes of ['', 'GET / HTTP/1.1\r\nHo', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n']) {
        const s = net.connect({ host: '127.0.0.1', port });
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        if (bytes) await new Promise((r) => s.write(bytes, r));
        s.resetAndDestroy();
      }
    }],
  ];

  it.each(attacks)('%s: answered, and the process keeps serving', async (_name, attack) => {
    await attack();
    await stillAlive();
  });

  it('nothing reached the process-wide uncaughtException / unhandledRejection handlers, and admin /live answers', async () => {
    const res = await fetch(`http://127.0.0.1:${adminPort}/live`);
    expect(res.status).toBe(200);
    const crashes = logs.filter((l) => /uncaught|unhandled/i.test(l.msg));
    expect(crashes).toEqual([]);
    expect(upstream.allText()).not.toContain('/smuggled');
  });

  it('SIGTERM still drains and exits 0', async () => {
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(logs.some((l) => l.msg === 'stopped')).toBe(true);
  });
});
