// Bodies stream end to end: a 1 GiB upload through the real `skein proxy` process (HTTP/1.1 and HTTP/2 clients, HTTP/1.1
// and HTTP/2 upstreams) arrives intact while the proxy's peak memory (VmHWM) stays far below the body's size.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
const GiB = 1024 ** 3;
const CHUNK = Buffer.alloc(256 * 1024, 'skein-large-body-');
/**
 * What the proxy may grow by while carrying 1 GiB: its buffers are bounded by windows and high-water marks, not the body.
 * Measured: the first GiB raises the peak by ~72 MiB (V8's young generation and heap settling under a fast allocation
 * rate), each further GiB by ~2 MiB. Buffering proportional to the body would add 1024 MiB.
 */
const MAX_FIRST_GROWTH_MIB = 128;
const MAX_LATER_GROWTH_MIB = 24;

function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rssMiB: kb('VmRSS'), hwmMiB: kb('VmHWM') };
}

/** Writes `total` bytes of CHUNK into `out` honouring back-pressure; resolves with the SHA-256 of what was written. */
async function pump(out: Writable, total: number): Promise<string> {
  const hash = createHash('sha256');
  let sent = 0;
  while (sent < total) {
    const n = Math.min(CHUNK.length, total - sent);
    const piece = n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n);
    hash.update(piece);
    sent += n;
    if (!out.write(piece)) await new Promise<void>((r, j) => { out.once('drain', r); out.once('error', j); });
  }
  out.end();
  return hash.digest('hex');
}

/** An upstream that hashes what it receives and answers with `<bytes> <sha256>`. */
function sink(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
  const hash = createHash('sha256');
  let n = 0;
  req.on('data', (d: Buffer) => { n += d.length; hash.update(d); });
  req.on('end', () => res.end(`${n} ${hash.digest('hex')}`));
}

describe('a 1 GiB upload streams through the proxy process without growing its memory', () => {
  let h1Upstream: http.Server;
  let h2Upstream: http2.Http2Server;
  let dir: string;
  let child: ChildProcess;
  let port = 0;
  let log = '';

  beforeAll(async () => {
    h1Upstream = http.createServer(sink);
    h2Upstream = http2.createServer(sink);
    await new Promise<void>((r) => h1Upstream.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => h2Upstream.listen(0, '127.0.0.1', r));
    dir = mkdtempSync(join(tmpdir(), 'skein-large-'));
    const file = join(dir, 'proxy.json');
    const cluster = (name: string, protocol: string, server: { address(): unknown }) =>
      ({ name, protocol, endpoints: [{ address: '127.0.0.1', port: (server.address() as AddressInfo).port }] });
    writeFileSync(file, JSON.stringify({
      version: 'large-body',
      mode: 'sidecar',
      admin: { address: '127.0.0.1', port: 0 },
      listeners: [{
        name: 'main', address: '127.0.0.1', port: 0, direction: 'outbound', protocol: 'detect',
        virtualHosts: [{ name: 'all', domains: ['*'], routes: [
          { name: 'to-h2', match: { path: { type: 'prefix', value: '/h2' } }, backends: [{ cluster: 'h2' }] },
          { name: 'to-h1', backends: [{ cluster: 'h1' }] },
        ] }],
      }],
      clusters: [cluster('h1', 'http1', h1Upstream), cluster('h2', 'http2', h2Upstream)],
    }));
    child = spawn(process.execPath, [join(ROOT, 'bin/skein.mjs'), 'proxy', '--config', file], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const end = Date.now() + 30_000;
    while (port === 0 && Date.now() < end && child.exitCode === null) {
      port = Number(/"msg":"listening","listener":"main","address":"127\.0\.0\.1:(\d+)"/.exec(log)?.[1] ?? 0);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(port, log).toBeGreaterThan(0);
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    h1Upstream?.closeAllConnections();
    await new Promise((r) => h1Upstream?.close(r));
    await new Promise((r) => h2Upstream?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  async function uploadHttp1(path: string): Promise<{ status: number; body: string; sha: string }> {
    let sha = '';
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-length': String(GiB) } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      void pump(req, GiB).then((h) => (sha = h), reject);
    });
    const r = await response;
    return { ...r, sha };
  }

  async function uploadHttp2(path: string): Promise<{ status: number; body: string; sha: string }> {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const stream = session.request({ ':method': 'POST', ':path': path });
      const shaP = pump(stream, GiB);
      const status = await new Promise<number>((resolve, reject) => {
        stream.once('response', (h) => resolve(Number(h[':status'])));
        stream.once('error', reject);
      });
      let body = '';
      stream.setEncoding('utf8').on('data', (d: string) => (body += d));
      await new Promise<void>((r, j) => { stream.once('end', r); stream.once('error', j); });
      return { status, body, sha: await shaP };
    } finally {
      session.close();
    }
  }

  // A small request first, so the baseline is the proxy warmed up (code loaded, pools made), not a cold process.
  let baseline = 0;
  const peaks: number[] = [];
  it('warms up', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/warm`, { method: 'POST', body: 'x' });
    expect(await r.text()).toMatch(/^1 [0-9a-f]{64}$/);
    baseline = memoryOf(child.pid!).hwmMiB;
    expect(baseline).toBeGreaterThan(10);
  });

  const cases: [string, () => Promise<{ status: number; body: string; sha: string }>][] = [
    ['HTTP/1.1 client -> HTTP/1.1 upstream', () => uploadHttp1('/h1')],
    ['HTTP/2 client -> HTTP/2 upstream', () => uploadHttp2('/h2')],
    ['HTTP/2 client -> HTTP/1.1 upstream', () => uploadHttp2('/h1')],
  ];
  for (const [name, upload] of cases) {
    it(name, { timeout: 240_000 }, async () => {
      const r = await upload();
      expect(r.status).toBe(200);
      expect(r.body).toBe(`${GiB} ${r.sha}`);
      const { hwmMiB } = memoryOf(child.pid!);
      const before = peaks.at(-1) ?? baseline;
      peaks.push(hwmMiB);
      const bound = peaks.length === 1 ? MAX_FIRST_GROWTH_MIB : MAX_LATER_GROWTH_MIB;
      expect(hwmMiB - before, `peak ${hwmMiB.toFixed(1)} MiB, before this upload ${before.toFixed(1)} MiB`).toBeLessThan(bound);
    });
  }
});
