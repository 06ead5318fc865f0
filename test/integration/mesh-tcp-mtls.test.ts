// Opaque TCP between two real sidecars on loopback over mesh mTLS: the client sidecar dials the meshed endpoint over TLS 1.3
// with its workload certificate and the TCP ALPN (checked on the wire), bytes echo end to end, the server sidecar forwards to
// the app with the caller's verified identity (authorization sees it; the TCP metrics say mtls), a peer with another identity
// or one that does not take the TCP ALPN gets no byte, and strict refuses plain-text TCP while permissive forwards it.
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spiffeId } from '../../api/proto/identity.ts';
import { MESH_TCP_ALPN } from '../../proxy/identity/mesh-transport.ts';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { testConfig } from '../support/proxy-fixture.ts';
import { until } from '../support/until.ts';
import { TestCa, testWorkload, type TestWorkload } from '../support/mesh-identity-fixture.ts';
import { tcpClient } from '../support/tcp-peers.ts';
import { startTcpEcho, type TcpEcho } from '../support/upstreams.ts';

const WEB = spiffeId('cluster.local', 'demo', 'web');
const BATCH = spiffeId('cluster.local', 'demo', 'batch');
const ECHO = spiffeId('cluster.local', 'demo', 'echo');

/** The server sidecar: a detect inbound listener with mesh mTLS whose opaque TCP goes to the app. */
async function serverSidecar(w: TestWorkload, tcpApp: number, mtls: Record<string, unknown>, authorization?: unknown): Promise<{ proxy: RunningProxy; port: number }> {
  const proxy = await startProxy(
    testConfig({
      listeners: [
        {
          name: 'inbound',
          address: '127.0.0.1',
          port: 0,
          direction: 'inbound',
          mtls,
          tcpCluster: 'tcp-app',
          ...(authorization !== undefined ? { authorization } : {}),
          virtualHosts: [],
        },
      ],
      clusters: [{ name: 'tcp-app', endpoints: [{ address: '127.0.0.1', port: tcpApp }] }],
      limits: { protocolDetectTimeoutMs: 50 },
    }),
    { identity: w.manager, metrics: w.metrics },
  );
  return { proxy, port: proxy.listeners.get('inbound')!.port };
}

/** The client sidecar: one outbound `tcp` listener per target, each to a meshed endpoint expecting `identity`. */
async function clientSidecar(w: TestWorkload, targets: readonly { name: string; port: number; identity: string }[]): Promise<{ proxy: RunningProxy; port(name: string): number }> {
  const proxy = await startProxy(
    testConfig({
      listeners: targets.map((t) => ({ name: t.name, address: '127.0.0.1', port: 0, direction: 'outbound', protocol: 'tcp', tcpCluster: t.name, virtualHosts: [] })),
      clusters: targets.map((t) => ({ name: t.name, meshTls: {}, endpoints: [{ address: '127.0.0.1', port: t.port, identity: t.identity }] })),
    }),
    { identity: w.manager, metrics: w.metrics },
  );
  return { proxy, port: (name) => proxy.listeners.get(name)!.port };
}

/** A TLS server standing in for a sidecar: records each handshake (and the bytes after it), echoes nothing. */
async function wireServer(ca: TestCa, alpn: string[] | undefined): Promise<{ port: number; seen: { protocol: string | null; uri: string | undefined; alpn: string | false | null; bytes: string }[]; connections(): number; close(): void }> {
  const leaf = ca.issueWithKey(ECHO);
  const seen: { protocol: string | null; uri: string | undefined; alpn: string | false | null; bytes: string }[] = [];
  const server = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true, ...(alpn ? { ALPNProtocols: alpn } : {}) }, (s) => {
    const entry = { protocol: s.getProtocol(), uri: s.getPeerX509Certificate()?.subjectAltName, alpn: s.alpnProtocol, bytes: '' };
    seen.push(entry);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => (entry.bytes += d.toString('latin1')));
  });
  let connections = 0;
  server.on('connection', () => connections++);
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, seen, connections: () => connections, close: () => server.close() };
}

describe('opaque TCP between two sidecars over mesh mTLS', () => {
  const ca = new TestCa();
  let web: TestWorkload;
  let batch: TestWorkload;
  let echo: TestWorkload;
  let app: TcpEcho;
  let permissive: { proxy: RunningProxy; port: number };
  let strict: { proxy: RunningProxy; port: number };
  let onlyWeb: { proxy: RunningProxy; port: number };
  let wire: Awaited<ReturnType<typeof wireServer>>;
  let noAlpn: Awaited<ReturnType<typeof wireServer>>;
  let fromWeb: Awaited<ReturnType<typeof clientSidecar>>;
  let fromBatch: Awaited<ReturnType<typeof clientSidecar>>;

  beforeAll(async () => {
    web = await testWorkload(ca, WEB);
    batch = await testWorkload(ca, BATCH);
    echo = await testWorkload(ca, ECHO);
    app = await startTcpEcho();
    permissive = await serverSidecar(echo, app.port, { mode: 'permissive' });
    strict = await serverSidecar(echo, app.port, { mode: 'strict' });
    onlyWeb = await serverSidecar(echo, app.port, { mode: 'permissive' }, { policies: [{ name: 'demo/only-web', rules: [{ from: [{ identities: [WEB] }] }] }] });
    wire = await wireServer(ca, [MESH_TCP_ALPN]);
    noAlpn = await wireServer(ca, undefined);
    const targets = [
      { name: 'permissive', port: permissive.port, identity: ECHO },
      { name: 'strict', port: strict.port, identity: ECHO },
      { name: 'only-web', port: onlyWeb.port, identity: ECHO },
      { name: 'wrong-identity', port: permissive.port, identity: spiffeId('cluster.local', 'demo', 'other') },
      { name: 'wire', port: wire.port, identity: ECHO },
      { name: 'no-alpn', port: noAlpn.port, identity: ECHO },
    ];
    fromWeb = await clientSidecar(web, targets);
    fromBatch = await clientSidecar(batch, targets);
  });

  afterAll(async () => {
    await fromWeb?.proxy.close();
    await fromBatch?.proxy.close();
    await permissive?.proxy.close();
    await strict?.proxy.close();
    await onlyWeb?.proxy.close();
    wire?.close();
    noAlpn?.close();
    await app?.close();
    for (const w of [web, batch, echo]) w?.manager.stop();
  });

  const metric = async (p: RunningProxy, name: string): Promise<string> => p.runtime.metrics.registry.getSingleMetricAsString(name);

  it('speaks mutual TLS 1.3 on the wire, with our certificate and the TCP ALPN, and sends the bytes inside it', async () => {
    const c = tcpClient(fromWeb.port('wire'), 'ping');
    await until('the bytes at the TLS server', () => wire.seen.at(-1)?.bytes === 'ping');
    expect(wire.seen.at(-1)).toEqual({ protocol: 'TLSv1.3', uri: `URI:${WEB}`, alpn: MESH_TCP_ALPN, bytes: 'ping' });
    c.socket.destroy();
  });

  it('echoes bytes end to end over mTLS; the server sidecar counts the connection as mTLS from the caller', async () => {
    const c = tcpClient(fromWeb.port('permissive'), 'hello\u0000\u00ff');
    await until('the echo', () => c.received() === 'hello\u0000\u00ff');
    c.socket.write('again');
    await until('the second echo', () => c.received().endsWith('again'));
    c.socket.end();
    expect(await c.ended).toBe('');
    const opened = await metric(permissive.proxy, 'skein_tcp_connections_opened_total');
    expect(opened).toMatch(new RegExp(`mtls="true",[^}]*source_identity="${WEB}"[^}]*} 1`));
    // The client side knows it too: its connection toward the meshed endpoint is counted as mTLS.
    expect(await metric(fromWeb.proxy, 'skein_tcp_connections_opened_total')).toMatch(/listener="permissive",[^}]*mtls="true"[^}]*} 1/);
  });

  it("authorization sees the caller's verified identity: the allowed identity passes, another is reset before the app sees it", async () => {
    const before = app.accepted.length;
    const denied = tcpClient(fromBatch.port('only-web'), 'from batch');
    expect(await denied.ended).not.toBe('still open');
    expect(denied.received()).toBe('');
    expect(app.accepted.length).toBe(before);
    const allowed = tcpClient(fromWeb.port('only-web'), 'from web');
    await until('the echo for the allowed caller', () => allowed.received() === 'from web');
    expect(app.accepted.length).toBe(before + 1);
    allowed.socket.destroy();
    const m = await metric(onlyWeb.proxy, 'skein_authorization_decisions_total');
    expect(m).toContain('skein_authorization_decisions_total{listener="inbound",policy="demo/only-web",decision="deny",reason="no-match"} 1');
    expect(m).toContain('skein_authorization_decisions_total{listener="inbound",policy="demo/only-web",decision="allow",reason="policy"} 1');
  });

  it('a peer with another identity is refused by the client sidecar: the connection closes, nothing reaches the app', async () => {
    const before = app.accepted.length;
    const c = tcpClient(fromWeb.port('wrong-identity'), 'secret');
    expect(await c.ended).not.toBe('still open');
    expect(c.received()).toBe('');
    expect(app.accepted.length).toBe(before);
    // Counted and cause-named on the client side, as HTTP's 503 peer-identity would be.
    expect(await metric(fromWeb.proxy, 'skein_mtls_handshake_failures_total')).toContain('{direction="outbound",reason="peer-identity"} 1');
    expect(await metric(fromWeb.proxy, 'skein_proxy_errors_total')).toContain('{listener="wrong-identity",cause="peer-identity"} 1');
  });

  it('a peer that does not take the TCP ALPN gets no byte', async () => {
    const c = tcpClient(fromWeb.port('no-alpn'), 'secret');
    expect(await c.ended).not.toBe('still open');
    expect(noAlpn.connections()).toBe(1);
    // The client sidecar may close before its side of the handshake reaches the server: then the server saw no session at all.
    expect(noAlpn.seen.map((s) => [s.alpn, s.bytes])).toEqual(noAlpn.seen.length === 0 ? [] : [[false, '']]);
    expect(await metric(fromWeb.proxy, 'skein_proxy_errors_total')).toContain('{listener="no-alpn",cause="upstream-tls"} 1');
  });

  it('strict: plain-text TCP is refused, mTLS TCP is forwarded; permissive forwards plain text (without an identity)', async () => {
    const before = app.accepted.length;
    // A first byte no HTTP request starts with: detection says opaque TCP at once.
    const plain = tcpClient(strict.port, '\u0001plain');
    expect(await plain.ended).not.toBe('still open');
    expect(plain.received()).toBe('');
    // A silent plain-text client too (a server-first protocol): detection times out, and strict refuses it.
    const silent = tcpClient(strict.port);
    expect(await silent.ended).not.toBe('still open');
    expect(app.accepted.length).toBe(before);
    expect(await metric(strict.proxy, 'skein_mtls_handshake_failures_total')).toMatch(/direction="inbound",reason="plaintext-refused"} 2/);
    const mesh = tcpClient(fromWeb.port('strict'), 'meshed');
    await until('the echo through strict', () => mesh.received() === 'meshed');
    mesh.socket.destroy();
    const open = tcpClient(permissive.port, '\u0001plain');
    await until('the plain-text echo through permissive', () => open.received() === '\u0001plain');
    open.socket.end();
    expect(await open.ended).toBe('');
    expect(await metric(permissive.proxy, 'skein_tcp_connections_opened_total')).toMatch(/mtls="false",[^}]*source_identity="unknown"[^}]*} 1/);
  });

  it('a short first message that could still begin an HTTP request ("ping") is forwarded as TCP once detection times out', async () => {
    const before = app.accepted.length;
    const c = tcpClient(permissive.port, 'ping');
    await until('the echo of a short first message', () => c.received() === 'ping', 10_000);
    expect(app.accepted.length).toBe(before + 1);
    c.socket.write(' pong');
    await until('the rest of the conversation', () => c.received() === 'ping pong');
    c.socket.end();
    expect(await c.ended).toBe('');
  });
});
