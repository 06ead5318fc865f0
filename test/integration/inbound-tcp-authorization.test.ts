// Authorization of what does not pass the request stack, on a real proxy on loopback: opaque TCP (a `tcp` listener, detection
// falling back to TCP on a non-HTTP first byte or a silent client) is judged per connection and a denied one is reset
// before anything connects to the app; an open TCP connection a new policy no longer allows is closed; a WebSocket upgrade
// is authorized like any request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spiffeId } from '../../api/proto/identity.ts';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { h1Request } from '../support/clients.ts';
import { editListener, testConfig } from '../support/proxy-fixture.ts';
import { rawExchange } from '../support/raw-http.ts';
import { until } from '../support/until.ts';
import { startHttpUpstream, startTcpEcho, type TcpEcho, type Upstream } from '../support/upstreams.ts';
import { tcpClient } from '../support/tcp-peers.ts';

const WEB = spiffeId('cluster.local', 'demo', 'web');
const ONLY_WEB = { policies: [{ name: 'demo/only-web', rules: [{ from: [{ identities: [WEB] }] }] }] };
const ANYONE = { policies: [{ name: 'demo/anyone', rules: [{ from: [{ unauthenticated: true }] }] }] };
/** Allows plain-text callers GET on any path: an HTTP-only rule, which must not allow raw TCP. */
const HTTP_GET = { policies: [{ name: 'demo/http-get', rules: [{ from: [{ unauthenticated: true }], to: [{ methods: ['GET'], paths: [{ type: 'prefix', value: '/' }] }] }] }] };

describe('authorization of opaque TCP connections and WebSocket upgrades', () => {
  let app: TcpEcho;
  let web: Upstream;
  let proxy: RunningProxy;
  const port = (name: string): number => proxy.listeners.get(name)!.port;
  const metrics = (): Promise<string> => proxy.runtime.metrics.registry.metrics();

  const setAuthorization = (name: string, authorization: unknown): Promise<void> => editListener(proxy, name, { authorization });

  beforeAll(async () => {
    app = await startTcpEcho();
    web = await startHttpUpstream('h1', { id: 'web' });
    const tcpListener = (name: string, authorization: unknown) => ({ name, address: '127.0.0.1', port: 0, direction: 'inbound', protocol: 'tcp', tcpCluster: 'tcp-app', authorization, virtualHosts: [] });
    const routes = [{ name: 'all', backends: [{ cluster: 'web' }] }];
    proxy = await startProxy(
      testConfig({
        listeners: [
          tcpListener('tcp-denied', ONLY_WEB),
          tcpListener('tcp-open', ANYONE),
          { name: 'detect', address: '127.0.0.1', port: 0, direction: 'inbound', tcpCluster: 'tcp-app', authorization: HTTP_GET, virtualHosts: [{ name: 'all', domains: ['*'], routes }] },
          { name: 'ws', address: '127.0.0.1', port: 0, direction: 'inbound', protocol: 'http', authorization: ONLY_WEB, virtualHosts: [{ name: 'all', domains: ['*'], routes }] },
        ],
        clusters: [
          { name: 'tcp-app', endpoints: [{ address: '127.0.0.1', port: app.port }] },
          { name: 'web', endpoints: [{ address: '127.0.0.1', port: web.port }] },
        ],
        limits: { protocolDetectTimeoutMs: 50 },
      }),
    );
  });

  afterAll(async () => {
    await proxy?.close();
    await app?.close();
    await web?.close();
  });

  it('a TCP listener whose policy denies the caller resets the connection before the app sees it; an allowed one is forwarded', async () => {
    const denied = tcpClient(port('tcp-denied'), 'hello');
    expect(['ECONNRESET', 'EPIPE']).toContain(await denied.ended);
    expect(denied.received()).toBe('');
    // Causality, not a wait: the allowed connection is made after the denied one ended, and is the only one the app got.
    const open = tcpClient(port('tcp-open'), 'ping');
    await until('the echo through the allowed listener', () => open.received() === 'ping');
    expect(app.accepted.length).toBe(1);
    open.socket.destroy();
    const text = await metrics();
    expect(text).toContain('skein_authorization_decisions_total{listener="tcp-denied",policy="demo/only-web",decision="deny",reason="no-match"} 1');
    expect(text).toContain('skein_authorization_decisions_total{listener="tcp-open",policy="demo/anyone",decision="allow",reason="policy"} 1');
  });

  it('on a detect listener, an HTTP-only rule allows the HTTP request and denies what falls back to TCP (a non-HTTP first byte, a silent client)', async () => {
    const before = app.accepted.length;
    const res = await h1Request(port('detect'), '/anything');
    expect(res.status).toBe(200);
    const binary = tcpClient(port('detect'), Buffer.from([0x00, 0x01, 0x02, 0x03]));
    expect(['ECONNRESET', 'EPIPE']).toContain(await binary.ended);
    // Server-first protocols: nothing sent, so the detection timeout makes it TCP, and TCP is denied.
    const silent = tcpClient(port('detect'));
    expect(['ECONNRESET', 'EPIPE']).toContain(await silent.ended);
    expect(binary.received() + silent.received()).toBe('');
    expect(app.accepted.length).toBe(before);
    expect(await metrics()).toContain('skein_authorization_decisions_total{listener="detect",policy="demo/http-get",decision="deny",reason="no-match"} 2');
  });

  it('closes an open TCP connection when a new policy no longer allows it, and keeps it while a new policy still does', async () => {
    const open = tcpClient(port('tcp-open'), 'one');
    await until('the first echo', () => open.received() === 'one');
    const upstreamSide = app.accepted.at(-1)!;
    // Another policy that still allows plain-text callers: the connection stays (and carries on).
    await setAuthorization('tcp-open', { policies: [{ name: 'demo/anyone-again', rules: [{ from: [{ unauthenticated: true }] }] }] });
    open.socket.write('two');
    await until('the second echo', () => open.received() === 'onetwo');
    await setAuthorization('tcp-open', ONLY_WEB);
    expect(['ECONNRESET', '']).toContain(await open.ended);
    await until('the app side closed', () => upstreamSide.destroyed || upstreamSide.readableEnded);
    expect(await metrics()).toContain('skein_authorization_decisions_total{listener="tcp-open",policy="demo/only-web",decision="deny",reason="no-match"} 1');
    // New connections are judged by the new policy too.
    const next = tcpClient(port('tcp-open'), 'three');
    expect(['ECONNRESET', 'EPIPE']).toContain(await next.ended);
    await setAuthorization('tcp-open', ANYONE);
  });

  it('a WebSocket upgrade is authorized like a request: denied with 403 and never tunneled to the app', async () => {
    const upgrade = 'GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    const seen = web.seen.length;
    const r = await rawExchange(port('ws'), upgrade);
    expect(r.responses[0]?.status).toBe(403);
    expect(r.responses[0]?.headers['x-skein-error']).toBe('forbidden');
    expect(web.seen.length).toBe(seen);
    expect(await metrics()).toContain('skein_authorization_decisions_total{listener="ws",policy="demo/only-web",decision="deny",reason="no-match"} 1');
  });
});
