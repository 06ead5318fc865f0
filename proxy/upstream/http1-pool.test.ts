// Unit tests for the raw-socket HTTP/1.1 pool: keep-alive reuse, the connection cap with queueing, idle eviction, poisoned connections.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExchangeHandler, Http1ClientConnection } from '../http1/client-connection.ts';
import type { ResponseHead } from '../http1/head-parser.ts';
import { Http1Pool } from './http1-pool.ts';

interface Upstream {
  port: number;
  connections: number;
  closed: number;
  requests: string[];
  close(): Promise<void>;
}

/** Answers each request head with `answer(path)` (default: 200 "ok"), keeping connections open. */
async function upstream(answer: (path: string) => string = () => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'): Promise<Upstream> {
  const sockets = new Set<net.Socket>();
  const u: Upstream = { port: 0, connections: 0, closed: 0, requests: [], close: async () => {} };
  const server = net.createServer((s) => {
    u.connections++;
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => {
      u.closed++;
      sockets.delete(s);
    });
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const path = buf.slice(0, end).split(' ')[1]!;
        buf = buf.slice(end + 4);
        u.requests.push(path);
        s.write(answer(path));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  u.port = (server.address() as net.AddressInfo).port;
  u.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return u;
}

/** Sends GET `path` on a pooled connection; resolves with status and body. */
function get(pool: Http1Pool, path: string): Promise<{ status: number; body: string; conn: Http1ClientConnection }> {
  return new Promise((resolve, reject) => {
    pool.acquire((conn) => {
      let status = 0;
      let body = '';
      const h: ExchangeHandler = {
        onResponse: (head: ResponseHead) => void (status = head.status),
        onData: (c) => ((body += c.toString()), true),
        onEnd: () => resolve({ status, body, conn }),
        onError: (e) => reject(e),
        onDrain: () => {},
      };
      conn.send(h, `GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`, false, null, true, false);
    });
  });
}

async function until(cond: () => boolean, deadlineMs = 5_000): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return cond();
}

const opts = (port: number, o: Partial<{ maxConnections: number; idleTimeoutMs: number }> = {}) => ({
  host: '127.0.0.1',
  port,
  maxConnections: o.maxConnections ?? 10,
  idleTimeoutMs: o.idleTimeoutMs ?? 60_000,
  connectTimeoutMs: 1_000,
});

describe('Http1Pool', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('reuses one kept-alive connection for sequential requests', async () => {
    const u = await upstream();
    const pool = new Http1Pool(opts(u.port));
    cleanup.push(() => pool.close(), () => u.close());
    for (let i = 0; i < 5; i++) expect(await get(pool, `/s${i}`)).toMatchObject({ status: 200, body: 'ok' });
    expect(u.connections).toBe(1);
    expect(pool.openConnections).toBe(1);
  });

  it('past maxConnections, requests wait for a connection instead of opening more', async () => {
    const u = await upstream();
    const pool = new Http1Pool(opts(u.port, { maxConnections: 2 }));
    cleanup.push(() => pool.close(), () => u.close());
    const all = await Promise.all(Array.from({ length: 6 }, (_, i) => get(pool, `/c${i}`)));
    expect(all.every((r) => r.status === 200)).toBe(true);
    expect(u.connections).toBe(2);
    expect(u.requests.sort()).toEqual(['/c0', '/c1', '/c2', '/c3', '/c4', '/c5']);
  });

  it('closes connections idle for longer than idleTimeoutMs', async () => {
    const u = await upstream();
    const pool = new Http1Pool(opts(u.port, { idleTimeoutMs: 50 }));
    cleanup.push(() => pool.close(), () => u.close());
    await get(pool, '/idle');
    expect(await until(() => u.closed === 1)).toBe(true);
    expect(await until(() => pool.openConnections === 0)).toBe(true);
    expect((await get(pool, '/again')).status).toBe(200);
  });

  it('never pools a connection that said close or sent bytes after its response', async () => {
    const u = await upstream((path) =>
      path === '/close'
        ? 'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok'
        : path === '/extra'
          ? 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello'
          : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
    );
    const pool = new Http1Pool(opts(u.port));
    cleanup.push(() => pool.close(), () => u.close());
    await get(pool, '/close');
    await get(pool, '/extra');
    await get(pool, '/plain');
    expect(u.connections).toBe(3);
  });

  it('close() destroys every connection, and later requests fail instead of hanging', async () => {
    const u = await upstream();
    const pool = new Http1Pool(opts(u.port));
    cleanup.push(() => u.close());
    await get(pool, '/before');
    pool.close();
    expect(await until(() => u.closed === 1)).toBe(true);
    await expect(get(pool, '/after')).rejects.toBeDefined();
  });
});
