// Mesh mTLS between two real proxies on loopback: the client sidecar (web) dials the server sidecar (echo) over mutual TLS
// 1.3 with certificates from an in-memory CA (the control plane's own), checked on the wire; the app sees the caller's
// identity in x-skein-client-id and never a spoofed one; permissive and strict; a wrong identity is a 503 with its cause;
// the leaf rotates under steady traffic with zero failed requests; a port turned strict live stops serving the plain-text
// connections already open on it (after their requests in flight).
import http from 'node:http';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import { spiffeId } from '../../api/proto/identity.ts';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { h1Request } from '../support/clients.ts';
import { editListener } from '../support/proxy-fixture.ts';
import { rawSession } from '../support/raw-http.ts';
import { until } from '../support/until.ts';
import { TestCa, testWorkload, type TestWorkload } from '../support/mesh-identity-fixture.ts';
import { loadEchoService, startGrpcUpstream, startHttpUpstream, type EchoMsg, type Upstream } from '../support/upstreams.ts';

const WEB = spiffeId('cluster.local', 'demo', 'web');
const ECHO = spiffeId('cluster.local', 'demo', 'echo');

function config(doc: Record<string, unknown>) {
  const r = parseProxyConfig({ version: 't', admin: { address: '127.0.0.1', port: 0 }, ...doc });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

/** The server sidecar: an inbound listener with mesh mTLS in front of the app (and a gRPC app, when given). */
async function serverSidecar(w: TestWorkload, app: number, mtls: Record<string, unknown>, extra: { grpcApp?: number; authorization?: unknown; tcpApp?: number } = {}): Promise<{ proxy: RunningProxy; port: number }> {
  const routes = [
    ...(extra.grpcApp !== undefined ? [{ name: 'grpc', match: { path: { type: 'prefix', value: '/skein.test.Echo' } }, backends: [{ cluster: 'grpc-app' }] }] : []),
    { name: 'app', backends: [{ cluster: 'app' }] },
  ];
  const proxy = await startProxy(
    config({
      listeners: [
        {
          name: 'inbound',
          address: '127.0.0.1',
          port: 0,
          direction: 'inbound',
          mtls,
          ...(extra.authorization !== undefined ? { authorization: extra.authorization } : {}),
          ...(extra.tcpApp !== undefined ? { tcpCluster: 'tcp-app' } : {}),
          virtualHosts: [{ name: 'all', domains: ['*'], routes }],
        },
      ],
      clusters: [
        { name: 'app', endpoints: [{ address: '127.0.0.1', port: app }] },
        ...(extra.grpcApp !== undefined ? [{ name: 'grpc-app', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: extra.grpcApp }] }] : []),
        ...(extra.tcpApp !== undefined ? [{ name: 'tcp-app', endpoints: [{ address: '127.0.0.1', port: extra.tcpApp }] }] : []),
      ],
    }),
    { identity: w.manager, metrics: w.metrics },
  );
  return { proxy, port: proxy.listeners.get('inbound')!.port };
}

/** The client sidecar: an outbound listener whose cluster is the server sidecar, expecting `identity`. */
async function clientSidecar(w: TestWorkload, clusters: readonly { name: string; port: number; identity: string; protocol?: string }[]): Promise<{ proxy: RunningProxy; port: number }> {
  const proxy = await startProxy(
    config({
      listeners: [
        {
          name: 'outbound',
          address: '127.0.0.1',
          port: 0,
          direction: 'outbound',
          virtualHosts: clusters.map((c) => ({ name: c.name, domains: [c.name], routes: [{ name: c.name, backends: [{ cluster: c.name }] }] })),
        },
      ],
      clusters: clusters.map((c) => ({ name: c.name, protocol: c.protocol ?? 'http1', meshTls: {}, endpoints: [{ address: '127.0.0.1', port: c.port, identity: c.identity }] })),
    }),
    { identity: w.manager, metrics: w.metrics },
  );
  return { proxy, port: proxy.listeners.get('outbound')!.port };
}

describe('mesh mTLS between two sidecars', () => {
  const ca = new TestCa();
  let web: TestWorkload;
  let echo: TestWorkload;
  let app: Upstream;
  let permissive: { proxy: RunningProxy; port: number };
  let strict: { proxy: RunningProxy; port: number };
  let client: { proxy: RunningProxy; port: number };
  let wire: { port: number; seen: { protocol: string | null; uri: string | undefined; alpn: string | false | null }[]; close(): void };

  beforeAll(async () => {
    web = await testWorkload(ca, WEB);
    echo = await testWorkload(ca, ECHO);
    app = await startHttpUpstream('h1', { id: 'echo-app' });
    permissive = await serverSidecar(echo, app.port, { mode: 'permissive' });
    strict = await serverSidecar(echo, app.port, { mode: 'strict' });
    // A plain TLS server standing in for a sidecar, to see what the client sidecar sends on the wire.
    const leaf = ca.issueWithKey(ECHO);
    const seen: { protocol: string | null; uri: string | undefined; alpn: string | false | null }[] = [];
    const server = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['http/1.1'] }, (s) => {
      seen.push({ protocol: s.getProtocol(), uri: s.getPeerX509Certificate()?.subjectAltName, alpn: s.alpnProtocol });
      s.on('error', () => {});
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nwire'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    wire = { port: (server.address() as AddressInfo).port, seen, close: () => server.close() };
    client = await clientSidecar(web, [
      { name: 'echo', port: permissive.port, identity: ECHO },
      { name: 'echo-strict', port: strict.port, identity: ECHO },
      { name: 'echo-wrong', port: permissive.port, identity: spiffeId('cluster.local', 'demo', 'other') },
      { name: 'wire', port: wire.port, identity: ECHO },
    ]);
  });

  afterAll(async () => {
    await client?.proxy.close();
    await permissive?.proxy.close();
    await strict?.proxy.close();
    wire?.close();
    await app?.close();
    web?.manager.stop();
    echo?.manager.stop();
  });

  const viaClient = (host: string, path = '/', headers: Record<string, string> = {}) => h1Request(client.port, path, { headers: { host, ...headers } });

  it('speaks mutual TLS 1.3 on the wire, with our certificate and ALPN', async () => {
    const res = await viaClient('wire');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('wire');
    expect(wire.seen.at(-1)).toEqual({ protocol: 'TLSv1.3', uri: `URI:${WEB}`, alpn: 'http/1.1' });
  });

  it("gives the app the caller's verified identity, and never the one a caller wrote itself", async () => {
    const res = await viaClient('echo', '/who', { 'x-skein-client-id': 'spiffe://cluster.local/ns/demo/sa/admin', 'x_skein_client_id': 'forged' });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body.toString()) as { headers: Record<string, string> };
    expect(seen.headers['x-skein-client-id']).toBe(WEB);
    expect(seen.headers['x_skein_client_id']).toBeUndefined();
  });

  it('permissive: a plain-text caller reaches the app, without any client id (a spoofed one is removed)', async () => {
    const res = await h1Request(permissive.port, '/plain', { headers: { host: 'echo', 'x-skein-client-id': WEB } });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body.toString()) as { headers: Record<string, string> };
    expect(seen.headers['x-skein-client-id']).toBeUndefined();
  });

  it('strict: plain text is refused, mTLS is served', async () => {
    const before = app.seen.length;
    await expect(h1Request(strict.port, '/plain', { headers: { host: 'echo', 'x-skein-client-id': WEB } })).rejects.toThrow();
    expect(app.seen.length).toBe(before);
    const res = await viaClient('echo-strict', '/mtls');
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body.toString()) as { headers: Record<string, string> }).headers['x-skein-client-id']).toBe(WEB);
    const metrics = await strict.proxy.runtime.metrics.registry.getSingleMetricAsString('skein_mtls_handshake_failures_total');
    expect(metrics).toMatch(/direction="inbound",reason="plaintext-refused"} [1-9]/);
  });

  it('a peer with another identity fails the handshake: 503 with its cause, nothing reaches the app', async () => {
    const before = app.seen.length;
    const res = await viaClient('echo-wrong', '/wrong');
    expect(res.status).toBe(503);
    expect(res.headers['x-skein-error']).toBe('peer-identity');
    expect(app.seen.length).toBe(before);
  });

  it('a client certificate the server does not trust is refused by the server sidecar', async () => {
    const other = new TestCa();
    const leaf = other.issueWithKey(WEB);
    const before = app.seen.length;
    const outcome = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: permissive.port, key: leaf.keyPem, cert: leaf.certPem, ca: ca.bundlePem, ALPNProtocols: ['http/1.1'], checkServerIdentity: () => undefined });
      s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nhost: echo\r\n\r\n'));
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString();
        // An answer at all is the failure this test looks for: no need to wait for a keep-alive close.
        if (got.includes('\r\n\r\n')) s.destroy();
      });
      s.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      s.on('close', () => resolve(got === '' ? 'closed' : got));
    });
    expect(outcome).not.toMatch(/^HTTP\/1.1 200/);
    expect(app.seen.length).toBe(before);
  });

  it('rotates both leaves under steady traffic with zero failed requests', async () => {
    const issuedBefore = ca.issued.length;
    const webVersion = web.manager.current()!.version;
    const failures: string[] = [];
    let done = 0;
    const total = 600;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        // Rotation points, at fixed request counts: deterministic, and under load (other workers are mid-request).
        if (i > 0 && i % 100 === 0) void Promise.all([web.manager.renewNow(), echo.manager.renewNow()]);
        try {
          const res = await viaClient('echo', `/r${i}`);
          const id = (JSON.parse(res.body.toString()) as { headers: Record<string, string> }).headers['x-skein-client-id'];
          if (res.status !== 200 || id !== WEB) failures.push(`${i}: ${res.status} ${id}`);
        } catch (e) {
          failures.push(`${i}: ${(e as Error).message}`);
        }
        done++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(done).toBe(total);
    expect(failures).toEqual([]);
    expect(ca.issued.length - issuedBefore).toBe(10);
    expect(web.manager.current()!.version).not.toBe(webVersion);
    // The newest leaves are in use: a fresh connection after the last rotation presents the newest web certificate.
    const res = await viaClient('wire');
    expect(res.status).toBe(200);
    const metrics = await web.metrics.registry.getSingleMetricAsString('skein_workload_cert_renewals_total');
    expect(metrics).toMatch(/skein_workload_cert_renewals_total 6/);
  });
});

describe('authorization over mTLS: HTTP and gRPC, allow and deny', () => {
  const ca = new TestCa();
  let web: TestWorkload;
  let echo: TestWorkload;
  let app: Upstream;
  let grpcApp: { port: number; close(): Promise<void> };
  let server: { proxy: RunningProxy; port: number };
  let client: { proxy: RunningProxy; port: number };
  let echoClient: grpc.Client & Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>;

  beforeAll(async () => {
    web = await testWorkload(ca, WEB);
    echo = await testWorkload(ca, ECHO);
    app = await startHttpUpstream('h1', { id: 'authz-app' });
    grpcApp = await startGrpcUpstream();
    server = await serverSidecar(echo, app.port, { mode: 'permissive' }, {
      grpcApp: grpcApp.port,
      authorization: {
        policies: [
          {
            name: 'demo/web-may-read',
            rules: [{ from: [{ identities: [WEB] }], to: [{ methods: ['GET'], paths: [{ type: 'prefix', value: '/allowed' }] }, { paths: [{ type: 'exact', value: '/skein.test.Echo/Unary' }] }] }],
          },
        ],
      },
    });
    client = await clientSidecar(web, [
      { name: 'authz', port: server.port, identity: ECHO },
      { name: 'authz-grpc', port: server.port, identity: ECHO, protocol: 'http2' },
    ]);
    const pkg = loadEchoService() as unknown as { skein: { test: { Echo: grpc.ServiceClientConstructor } } };
    echoClient = new pkg.skein.test.Echo(`127.0.0.1:${client.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'authz-grpc' }) as never;
  });

  afterAll(async () => {
    echoClient?.close();
    await client?.proxy.close();
    await server?.proxy.close();
    await app?.close();
    await grpcApp?.close();
    web?.manager.stop();
    echo?.manager.stop();
  });

  const get = (path: string, method = 'GET') => h1Request(client.port, path, { method, headers: { host: 'authz' } });

  it('HTTP: the allowed caller, method and path pass; anything else is 403 forbidden and never reaches the app', async () => {
    expect((await get('/allowed/x')).status).toBe(200);
    const before = app.seen.length;
    for (const [path, method] of [['/denied', 'GET'], ['/allowed/x', 'POST'], ['/allowed/../denied', 'GET'], ['/allowed%2F..%2Fdenied', 'GET']] as const) {
      const res = await get(path, method);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.headers['x-skein-error']).toBe('forbidden');
    }
    // A caller without a verified identity (plain text, permissive port) is not the allowed identity.
    expect((await h1Request(server.port, '/allowed/x', { headers: { host: 'authz' } })).status).toBe(403);
    expect(app.seen.length).toBe(before);
    const m = await server.proxy.runtime.metrics.registry.getSingleMetricAsString('skein_authorization_decisions_total');
    expect(m).toMatch(/listener="inbound",policy="demo\/web-may-read",decision="allow",reason="policy"} [1-9]/);
    expect(m).toMatch(/listener="inbound",policy="demo\/web-may-read",decision="deny",reason="no-match"} [1-9]/);
    expect(m).toMatch(/decision="deny",reason="ambiguous-path"} [1-9]/);
  });

  it('gRPC: the allowed method answers, another is PERMISSION_DENIED', async () => {
    const ok = await new Promise<EchoMsg>((resolve, reject) => echoClient.Unary!({ text: 'hi', count: 1 }, (e: Error | null, m: EchoMsg) => (e ? reject(e) : resolve(m))));
    expect(ok.text).toBe('echo:hi');
    const denied = await new Promise<grpc.StatusObject>((resolve) => {
      const call = echoClient.ServerStream!({ text: 's', count: 2 }) as unknown as grpc.ClientReadableStream<EchoMsg>;
      call.on('data', () => {});
      call.on('error', () => {});
      call.on('status', resolve);
    });
    expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
  });
});

/** An HTTP app that holds every request to /hold until told to answer it, and echoes anything else at once. */
async function startHoldingApp(): Promise<{ port: number; held(): number; release(): void; close(): Promise<void> }> {
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/hold') {
      held.push(res);
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, headers: req.headers }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    held: () => held.length,
    release: () => {
      for (const r of held.splice(0)) r.end('released');
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('a port turned strict while plain-text connections are open (live config, as Envoy drains a changed filter chain)', () => {
  const ca = new TestCa();
  let web: TestWorkload;
  let echo: TestWorkload;
  let app: Awaited<ReturnType<typeof startHoldingApp>>;
  let tcpApp: net.Server;
  let server: { proxy: RunningProxy; port: number };
  let client: { proxy: RunningProxy; port: number };
  const GET = (path: string): string => `GET ${path} HTTP/1.1\r\nhost: echo\r\n\r\n`;
  const setMode = (mtls: Record<string, unknown>): Promise<void> => editListener(server.proxy, 'inbound', { mtls: { ports: [], ...mtls } });
  const refused = async (): Promise<number> => Number(/cause="mtls-required"[^}]*} (\d+)/.exec(await server.proxy.runtime.metrics.registry.getSingleMetricAsString('skein_proxy_errors_total'))?.[1] ?? 0);

  beforeAll(async () => {
    web = await testWorkload(ca, WEB);
    echo = await testWorkload(ca, ECHO);
    app = await startHoldingApp();
    tcpApp = net.createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => tcpApp.listen(0, '127.0.0.1', r));
    server = await serverSidecar(echo, app.port, { mode: 'permissive' }, { tcpApp: (tcpApp.address() as AddressInfo).port });
    client = await clientSidecar(web, [{ name: 'echo', port: server.port, identity: ECHO }]);
  });

  afterAll(async () => {
    await client?.proxy.close();
    await server?.proxy.close();
    await app?.close();
    tcpApp?.close();
    web?.manager.stop();
    echo?.manager.stop();
  });

  it('HTTP/1.1: a kept-alive plain-text connection serves no request after the switch; a busy one answers with connection: close, then closes', async () => {
    await setMode({ mode: 'permissive' });
    const idle = await rawSession(server.port, { responses: 2, deadlineMs: 10_000 });
    idle.write(GET('/before'));
    await until('the first answer on the kept-alive connection', () => idle.socket.bytesRead > 0);
    const busy = await rawSession(server.port, { responses: 2, deadlineMs: 10_000 });
    busy.write(GET('/hold'));
    await until('the busy request held by the app', () => app.held() === 1);
    const mesh = await h1Request(client.port, '/mesh-before', { headers: { host: 'echo' } });
    expect(mesh.status).toBe(200);
    const counted = await refused();

    await setMode({ mode: 'strict' });
    const idleEnd = await idle.result();
    expect(idleEnd.closed).toBe(true);
    expect(idleEnd.responses.map((r) => r.status)).toEqual([200]);
    app.release();
    const busyEnd = await busy.result();
    expect(busyEnd.closed).toBe(true);
    expect(busyEnd.responses.map((r) => [r.status, r.headers.connection, r.body.toString()])).toEqual([[200, 'close', 'released']]);
    expect(await refused()).toBe(counted + 2);
    // A new plain-text connection is refused; mTLS callers are served as before.
    await expect(h1Request(server.port, '/after', { headers: { host: 'echo' } })).rejects.toThrow();
    expect((await h1Request(client.port, '/mesh-after', { headers: { host: 'echo' } })).status).toBe(200);
  });

  it('HTTP/2 prior knowledge: GOAWAY, the stream in flight still answered; opaque TCP: closed', async () => {
    await setMode({ mode: 'permissive' });
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    session.on('error', () => {});
    const goaway = new Promise<number>((r) => session.once('goaway', (code: number) => r(code)));
    const closed = new Promise<void>((r) => session.once('close', () => r()));
    const answer = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const s = session.request({ ':path': path, host: 'echo' });
        let body = '';
        let status = 0;
        s.on('response', (h) => (status = Number(h[':status'])));
        s.on('data', (d: Buffer) => (body += d.toString()));
        s.on('end', () => resolve({ status, body }));
        s.on('error', reject);
        s.end();
      });
    expect((await answer('/h2-before')).status).toBe(200);
    const held = answer('/hold');
    await until('the HTTP/2 request held by the app', () => app.held() === 1);
    const tcp = net.connect({ host: '127.0.0.1', port: server.port });
    tcp.on('error', () => {});
    let echoed = '';
    tcp.on('data', (d: Buffer) => (echoed += d.toString('latin1')));
    tcp.write(Buffer.from([0, 1, 2, 3]));
    await until('the TCP echo', () => echoed.length === 4);
    const tcpClosed = new Promise<void>((r) => tcp.once('close', () => r()));

    await setMode({ mode: 'strict' });
    expect(await goaway).toBe(0);
    await tcpClosed;
    app.release();
    expect(await held).toEqual({ status: 200, body: 'released' });
    await closed;
  });

  it('a port kept permissive by its own mode keeps its plain-text connections', async () => {
    await setMode({ mode: 'permissive' });
    const kept = await rawSession(server.port, { responses: 2, deadlineMs: 10_000 });
    kept.write(GET('/one'));
    await until('the first answer', () => kept.socket.bytesRead > 0);
    await setMode({ mode: 'strict', ports: [{ port: server.port, mode: 'permissive' }] });
    kept.write(GET('/two'));
    const r = await kept.result();
    expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
    kept.socket.destroy();
  });
});

describe('readiness waits for the workload certificate', () => {
  it('reports not ready, with the reason, until Certify answers', async () => {
    const { CertifyFailure, WorkloadCertificateManager } = await import('../../proxy/identity/workload-certificate-manager.ts');
    const { ProxyMetrics } = await import('../../proxy/telemetry/proxy-metrics.ts');
    const { identityMetrics } = await import('../../proxy/identity/identity-metrics.ts');
    const { ManualClock } = await import('../support/mesh-identity-fixture.ts');
    const ca = new TestCa();
    ca.failWith = new CertifyFailure('unavailable', 'UNAVAILABLE: control plane away');
    const metrics = new ProxyMetrics();
    const clock = new ManualClock();
    const manager = new WorkloadCertificateManager({ identity: WEB, certify: ca.certify, token: async () => 't', metrics: identityMetrics(metrics.registry), log: () => {}, clock, random: () => 0.5 });
    const proxy = await startProxy(config({ listeners: [] }), { identity: manager, metrics });
    try {
      const ready = () => new Promise<{ status: number; body: string }>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: proxy.admin.port, path: '/ready' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
      // The lines after the certificate's are the config source's (live-config's wording): only ours is checked here.
      const first = await ready();
      expect(first.status).toBe(503);
      expect(first.body).toMatch(/^not ready\nworkload certificate: not issued yet\n/);
      await manager.renewNow();
      const r = await ready();
      expect(r.status).toBe(503);
      expect(r.body).toMatch(/last attempt: unavailable: UNAVAILABLE: control plane away/);
      expect(clock.pending.size).toBe(1);
      ca.failWith = null;
      await manager.renewNow();
      const last = await ready();
      expect(last.status).toBe(200);
      expect(last.body).toMatch(/^ready\n/);
      expect(last.body).not.toMatch(/workload certificate/);
      expect(await metrics.registry.getSingleMetricAsString('skein_workload_cert_failures_total')).toMatch(/reason="unavailable"} 1/);
    } finally {
      await proxy.close();
      manager.stop();
    }
  });
});
