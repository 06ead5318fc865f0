// RELIABILITY 11 — upgrades: WebSocket answered 200 is not tunnelled, bytes around the 101, h2c served as HTTP/1.1,
// CONNECT refused, and an upgraded upstream connection is never reused.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME, H2_ERROR, RawH2Connection, errorCodeOf, headerBlock, headersFrame, responseStatus } from '../support/h2-frames.ts';
import { http1Get, http2Get, rawExchange, rawSession } from '../support/raw-http.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';

interface Seen {
  readonly connection: number;
  readonly requestLine: string;
  readonly headers: string;
}

/**
 * A raw upstream that parses request heads (no bodies in these tests) and keeps parsing after a non-101 answer, so
 * a request smuggled behind a refused upgrade would show up in `seen`. After a 101 it echoes bytes back as "echo:<bytes>".
 */
async function startUpgradeUpstream(): Promise<{ port: number; seen: Seen[]; closedConnections: Set<number>; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const closedConnections = new Set<number>();
  const sockets = new Set<net.Socket>();
  let next = 0;
  const server = net.createServer((socket) => {
    const id = next++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => {
      sockets.delete(socket);
      closedConnections.add(id);
    });
    let buf = '';
    let tunnel = false;
    socket.on('data', (d: Buffer) => {
      if (tunnel) return void socket.write(`echo:${d.toString('latin1')}`);
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const requestLine = head.split('\r\n')[0]!;
        seen.push({ connection: id, requestLine, headers: head.toLowerCase() });
        const path = requestLine.split(' ')[1] ?? '';
        if (path.startsWith('/ws101') || path.startsWith('/ws103')) {
          const early = path.startsWith('/ws103') ? 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n' : '';
          socket.write(`${early}HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nhello-from-upstream`);
          tunnel = true;
          if (buf.length > 0) socket.write(`echo:${buf}`);
          return;
        }
        const body = `upstream saw ${requestLine}`;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    closedConnections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const WS_HEADERS = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: example.test\r\n\r\n';

async function until(cond: () => boolean, deadlineMs = 10_000): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
}

describe('RELIABILITY 11: upgrades', () => {
  let upstream: Awaited<ReturnType<typeof startUpgradeUpstream>>;
  let proxy: HostileProxy;

  beforeAll(async () => {
    upstream = await startUpgradeUpstream();
    proxy = await startHostileProxy({ upstreamPort: upstream.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });
  const smuggledSeen = (): number => upstream.seen.filter((s) => s.requestLine.includes('/smuggled')).length;

  it('a WebSocket upgrade the upstream answers with 200 is relayed as a plain response and closed; bytes sent behind it never reach the upstream', async () => {
    const r = await rawExchange(proxy.port, `GET /ws200 HTTP/1.1\r\nHost: example.test\r\n${WS_HEADERS}\r\n${SMUGGLED}`);
    expect(r.responses).toHaveLength(1);
    expect(r.responses[0]!.status).toBe(200);
    expect(r.responses[0]!.body.toString()).toBe('upstream saw GET /ws200 HTTP/1.1');
    expect(r.responses[0]!.headers.connection).toBe('close');
    expect(r.closed).toBe(true);
    // Give the upstream every chance to have received a smuggled request: it would have answered it by now.
    const upgradeConn = upstream.seen.find((s) => s.requestLine.startsWith('GET /ws200'))!.connection;
    expect(await until(() => upstream.closedConnections.has(upgradeConn))).toBe(true);
    expect(smuggledSeen()).toBe(0);
    expect((await http1Get(proxy.port)).status).toBe(200);
  });

  it('the same, with the smuggled bytes sent after the 200 arrived', async () => {
    const s = await rawSession(proxy.port, { responses: 1, keepOpen: true });
    s.write(`GET /ws200-late HTTP/1.1\r\nHost: example.test\r\n${WS_HEADERS}\r\n`);
    const first = await s.result();
    expect(first.responses[0]?.status).toBe(200);
    s.write(SMUGGLED);
    const after = await s.result();
    s.socket.destroy();
    expect(after.closed || s.socket.destroyed).toBe(true);
    expect(smuggledSeen()).toBe(0);
  });

  it('101: the upgrade is tunnelled; bytes the client sent before the 101 and bytes the upstream sent with it both arrive', async () => {
    const s = await rawSession(proxy.port, { keepOpen: true, deadlineMs: 5_000 });
    s.write(`GET /ws101 HTTP/1.1\r\nHost: example.test\r\n${WS_HEADERS}\r\nearly-client-bytes`);
    let text = '';
    s.socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    expect(await until(() => text.includes('echo:early-client-bytes'))).toBe(true);
    expect(text.startsWith('HTTP/1.1 101')).toBe(true);
    expect(text).toContain('\r\n\r\nhello-from-upstream');
    s.write('more');
    expect(await until(() => text.includes('echo:more'))).toBe(true);
    s.socket.destroy();
  });

  it('an informational 103 before the 101 does not break the tunnel', async () => {
    const s = await rawSession(proxy.port, { keepOpen: true });
    s.write(`GET /ws103 HTTP/1.1\r\nHost: example.test\r\n${WS_HEADERS}\r\n`);
    let text = '';
    s.socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    expect(await until(() => text.includes('hello-from-upstream'))).toBe(true);
    expect(text).toContain('HTTP/1.1 101');
    s.write('ping');
    expect(await until(() => text.includes('echo:ping'))).toBe(true);
    s.socket.destroy();
  });

  it('an upgraded upstream connection is never returned to the pool: later requests use other connections, and it closes with the client', async () => {
    const s = await rawSession(proxy.port, { keepOpen: true });
    s.write(`GET /ws101-pool HTTP/1.1\r\nHost: example.test\r\n${WS_HEADERS}\r\n`);
    let text = '';
    s.socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    expect(await until(() => text.includes('hello-from-upstream'))).toBe(true);
    const tunnelConn = upstream.seen.find((x) => x.requestLine.startsWith('GET /ws101-pool'))!.connection;
    for (let i = 0; i < 5; i++) expect((await http1Get(proxy.port, `/pooled-${i}`)).status).toBe(200);
    const pooledConns = upstream.seen.filter((x) => x.requestLine.includes('/pooled-')).map((x) => x.connection);
    expect(pooledConns).not.toContain(tunnelConn);
    s.socket.destroy();
    expect(await until(() => upstream.closedConnections.has(tunnelConn))).toBe(true);
    // Nothing but the upgrade ever travelled on that upstream connection.
    expect(upstream.seen.filter((x) => x.connection === tunnelConn)).toHaveLength(1);
  });

  it('an h2c upgrade request is served as plain HTTP/1.1 (no 101, upgrade headers not forwarded), then the connection is closed', async () => {
    const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n';
    // Node's parser stays in upgrade mode after an Upgrade request it did not upgrade, so a pipelined second request
    // would be ignored; the proxy answers with Connection: close instead of leaving a black-hole keep-alive connection.
    const r = await rawExchange(proxy.port, [`GET /h2c HTTP/1.1\r\nHost: example.test\r\n${h2c}\r\n`, 'GET /h2c-second HTTP/1.1\r\nHost: example.test\r\n\r\n']);
    expect(r.responses.map((x) => x.status)).toEqual([200]);
    expect(r.responses[0]!.headers.connection).toBe('close');
    expect(r.closed).toBe(true);
    expect(r.raw.toString('latin1')).not.toContain(' 101 ');
    const got = upstream.seen.find((x) => x.requestLine.startsWith('GET /h2c '))!;
    expect(got.headers).not.toContain('upgrade:');
    expect(got.headers).not.toContain('http2-settings');
    expect(upstream.seen.filter((x) => x.requestLine.includes('/h2c-second'))).toHaveLength(0);
    // Every other connection is unaffected.
    expect((await http1Get(proxy.port)).status).toBe(200);
  });

  it.each([
    ['CONNECT to a host:port', 'CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n'],
    ['CONNECT with bytes behind it', `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\nSSH-2.0-x\r\n${SMUGGLED}`],
  ])('%s -> 405, closed, nothing reaches any upstream', async (_name, bytes) => {
    const before = upstream.seen.length;
    const r = await rawExchange(proxy.port, bytes);
    expect(r.responses[0]?.status).toBe(405);
    expect(r.responses[0]?.headers['x-skein-error']).toBe('bad-request');
    expect(r.closed).toBe(true);
    expect(upstream.seen.length).toBe(before);
    expect((await http1Get(proxy.port)).status).toBe(200);
  });

  it('HTTP/2 CONNECT -> 405 from Node (no connect listener), nothing forwarded', async () => {
    const before = upstream.seen.length;
    const c = await RawH2Connection.open(proxy.port);
    try {
      c.send(headersFrame(1, headerBlock([[':method', 'CONNECT'], [':authority', 'evil.test:443']]), { endStream: true }));
      const f = await c.waitForFrame((x) => x.streamId === 1 && (x.type === FRAME.HEADERS || x.type === FRAME.RST_STREAM));
      expect(f?.type).toBe(FRAME.HEADERS);
      expect(responseStatus(f!.payload)).toBe(405);
    } finally {
      c.destroy();
    }
    expect(upstream.seen.length).toBe(before);
    expect((await http2Get(proxy.port)).status).toBe(200);
  });

  it('HTTP/2 extended CONNECT (:protocol websocket) is refused: the proxy never advertised it', async () => {
    const c = await RawH2Connection.open(proxy.port);
    try {
      c.send(
        headersFrame(
          1,
          headerBlock([[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'http'], [':path', '/ws101'], [':authority', 'example.test']]),
          { endStream: false },
        ),
      );
      const f = await c.waitForReset(1);
      expect(f?.type).toBe(FRAME.RST_STREAM);
      expect(errorCodeOf(f!)).toBe(H2_ERROR.PROTOCOL_ERROR);
    } finally {
      c.destroy();
    }
    expect(upstream.seen.filter((x) => x.requestLine.includes('CONNECT'))).toHaveLength(0);
  });

  it('an upstream that never answers an upgrade: 504 timeout at the request idle timeout, nothing left in flight', async () => {
    const held = new Set<net.Socket>();
    const silent = net.createServer((x) => {
      held.add(x);
      x.resume();
      x.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const p = await startHostileProxy({ upstreamPort: (silent.address() as net.AddressInfo).port, limits: { requestIdleTimeoutMs: 1_000 } });
    try {
      const r = await rawExchange(p.port, `GET /ws-silent HTTP/1.1\r\nHost: example.test\r\n${WS_HEADERS}\r\n`, { deadlineMs: 15_000 });
      expect(r.responses[0]?.status).toBe(504);
      expect(r.responses[0]?.headers['x-skein-error']).toBe('timeout');
      expect(r.closed).toBe(true);
      expect(await until(() => p.proxy.runtime.inFlight === 0)).toBe(true);
      expect(await until(() => [...held].every((x) => x.destroyed || x.readableEnded))).toBe(true);
    } finally {
      await p.close();
      for (const x of held) x.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
