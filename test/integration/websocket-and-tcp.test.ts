// WebSocket upgrades (tunnelled only after 101) and opaque TCP pass-through on a detecting listener.
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { h1Request } from '../support/clients.ts';
import { startTestProxy, type TestProxy } from '../support/proxy-fixture.ts';
import { startTcpEcho, startWebSocketUpstream } from '../support/upstreams.ts';

describe('WebSocket through the proxy', () => {
  let ws: { port: number; close(): Promise<void> };
  let rejecting: { port: number; close(): Promise<void> };
  /** Answers each upgrade with the Host and path it arrived with. */
  let seen: WebSocketServer;
  let proxy: TestProxy;
  beforeAll(async () => {
    ws = await startWebSocketUpstream();
    rejecting = await startWebSocketUpstream({ reject: true });
    seen = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    seen.on('connection', (s, req) => s.send(`${req.headers.host} ${req.url}`));
    await new Promise((r) => seen.once('listening', r));
    proxy = await startTestProxy({
      routes: [
        { name: 'bad', match: { path: { type: 'prefix', value: '/bad' } }, backends: [{ cluster: 'rejecting' }] },
        { name: 'rw', match: { path: { type: 'prefix', value: '/old' } }, backends: [{ cluster: 'seen' }], rewrite: { hostname: 'backend.internal', path: { type: 'prefix', value: '/new' } } },
        { name: 'ws', backends: [{ cluster: 'ws' }] },
      ],
      clusters: [
        { name: 'ws', endpoints: [{ address: '127.0.0.1', port: ws.port }] },
        { name: 'rejecting', endpoints: [{ address: '127.0.0.1', port: rejecting.port }] },
        { name: 'seen', endpoints: [{ address: '127.0.0.1', port: (seen.address() as AddressInfo).port }] },
      ],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await ws.close();
    await rejecting.close();
    for (const c of seen.clients) c.terminate();
    await new Promise((r) => seen.close(r));
  });

  it('applies the route\'s URL rewrite (Host and path) to the upgrade, as to any request of the route', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${proxy.port}/old/chat?x=1`);
    const first = await new Promise<string>((resolve, reject) => {
      client.once('message', (d) => resolve(String(d)));
      client.once('error', reject);
    });
    client.close();
    expect(first).toBe('backend.internal /new/chat?x=1');
  });

  it('echoes text and binary messages after the upstream answers 101', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${proxy.port}/chat`);
    const replies: string[] = [];
    await new Promise<void>((resolve, reject) => {
      client.on('open', () => client.send('hello'));
      client.on('message', (data, isBinary) => {
        replies.push(isBinary ? `bin:${(data as Buffer).length}` : data.toString());
        if (replies.length === 1) client.send(Buffer.alloc(70_000, 1));
        else client.close();
      });
      client.on('close', () => resolve());
      client.on('error', reject);
    });
    expect(replies).toEqual(['echo:hello', 'bin:70000']);
  });

  it('does not tunnel when the upstream answers 200 instead of 101', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${proxy.port}/bad`);
    const status = await new Promise<number>((resolve) => {
      client.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      client.on('error', () => resolve(-1));
    });
    expect(status).toBe(200);
    // Plain HTTP on the same listener still works.
    expect((await h1Request(proxy.port, '/bad/plain')).status).toBe(200);
  });
});

describe('opaque TCP on a detecting listener', () => {
  let echo: { port: number; close(): Promise<void> };
  let proxy: TestProxy;
  beforeAll(async () => {
    echo = await startTcpEcho();
    proxy = await startTestProxy({
      routes: [{ name: 'none', directResponse: { status: 200, body: 'http' } }],
      clusters: [{ name: 'tcp', endpoints: [{ address: '127.0.0.1', port: echo.port }] }],
      tcpCluster: 'tcp',
      limits: { protocolDetectTimeoutMs: 200 },
    });
  });
  afterAll(async () => {
    await proxy.close();
    await echo.close();
  });

  const exchange = (payload: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const s = net.connect(proxy.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      let expected = payload.length;
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        expected -= c.length;
        if (expected <= 0) {
          s.destroy();
          resolve(Buffer.concat(chunks));
        }
      });
      s.on('error', reject);
      s.write(payload);
    });

  it('passes non-HTTP bytes through unchanged', async () => {
    const payload = Buffer.from([0x00, 0x01, 0x02, 0xff, ...Buffer.from('binary protocol')]);
    expect((await exchange(payload)).equals(payload)).toBe(true);
  });

  it('treats a connection whose client stays silent as opaque TCP (server-first protocols)', async () => {
    // The upstream speaks first; the client sends nothing. Only a switch to opaque TCP lets the greeting through.
    const greeter = net.createServer((s) => s.end('220 hello from a server-first protocol\r\n'));
    await new Promise<void>((r) => greeter.listen(0, '127.0.0.1', () => r()));
    const p = await startTestProxy({
      routes: [{ name: 'none', directResponse: { status: 200, body: 'http' } }],
      clusters: [{ name: 'tcp', endpoints: [{ address: '127.0.0.1', port: (greeter.address() as net.AddressInfo).port }] }],
      tcpCluster: 'tcp',
      limits: { protocolDetectTimeoutMs: 100 },
    });
    try {
      const got = await new Promise<string>((resolve, reject) => {
        const s = net.connect(p.port, '127.0.0.1');
        let text = '';
        s.on('data', (c) => (text += c.toString()));
        s.on('end', () => resolve(text));
        s.on('error', reject);
      });
      expect(got).toBe('220 hello from a server-first protocol\r\n');
    } finally {
      await p.close();
      greeter.close();
    }
  });

  it('still serves HTTP on the same listener', async () => {
    const r = await h1Request(proxy.port, '/');
    expect(r.body.toString()).toBe('http');
  });
});
