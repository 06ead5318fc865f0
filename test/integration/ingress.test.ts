// The ingress as it runs in a pod: a real `skein proxy --mode ingress --workers 2` on loopback, with SNI certificates,
// 421, TLS policy, path normalization, and every edge policy (JWT, IP lists behind a trusted hop, CORS, external
// authorization in both fail modes), a WebSocket and a gRPC call through it.
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort, startProxyProcess, type ProxyProcess } from '../support/start-proxy.ts';
import { makeTestCert, type TestCert } from '../support/test-cert.ts';
import { loadEchoService, startGrpcUpstream, startHttpUpstream, startWebSocketUpstream, type EchoMsg, type Upstream } from '../support/upstreams.ts';

let proxy: ProxyProcess;
let echo: Upstream;
let grpcUp: { port: number; close(): Promise<void> };
let wsUp: { port: number; close(): Promise<void> };
let authz: http.Server;
let authzAsked = 0;
let httpPort = 0;
let httpsPort = 0;
const certs: TestCert[] = [];
let signer: Awaited<ReturnType<typeof jose.generateKeyPair>>['privateKey'];

async function token(opts: { iss?: string; expIn?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new jose.SignJWT({ sub: 'user-7' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(opts.iss ?? 'https://issuer.test')
    .setAudience('api')
    .setIssuedAt(now - 3600)
    .setExpirationTime(now + (opts.expIn ?? 600))
    .sign(signer);
}

beforeAll(async () => {
  const keys = await jose.generateKeyPair('ES256', { extractable: true });
  signer = keys.privateKey;
  const jwks = { keys: [{ ...(await jose.exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
  // The authorization service (and the JWKS endpoint): x-authz says what to answer.
  authz = http.createServer((req, res) => {
    if (req.url === '/jwks') return void res.end(JSON.stringify(jwks));
    authzAsked++;
    const what = req.headers['x-authz'];
    if (what === 'allow') return void res.writeHead(200, { 'x-user': 'alice' }).end();
    if (what === 'hang') return; // never answers
    res.writeHead(403, { 'content-type': 'text/plain' }).end('nope');
  });
  await new Promise<void>((r) => authz.listen(0, '127.0.0.1', r));
  const authzPort = (authz.address() as AddressInfo).port;
  echo = await startHttpUpstream('h1', { id: 'echo' });
  grpcUp = await startGrpcUpstream();
  wsUp = await startWebSocketUpstream();
  const fallback = makeTestCert(['default.test']);
  const api = makeTestCert(['api.test']);
  const web = makeTestCert(['web.test']);
  certs.push(fallback, api, web);
  [httpPort, httpsPort] = [await freePort(), await freePort()];
  const admin = await freePort();
  const route = (name: string, prefix: string, edge: unknown, cluster = 'echo') => ({ name, match: { path: { type: 'prefix', value: prefix } }, backends: [{ cluster }], edge });
  const authzEdge = (failOpen: boolean) => ({ extAuthz: { url: `http://127.0.0.1:${authzPort}/check`, timeoutMs: 300, failOpen, includeHeaders: ['x-authz'], upstreamHeaders: ['x-user'] } });
  const config = {
    mode: 'ingress',
    admin: { address: '127.0.0.1', port: admin },
    drainTimeoutMs: 2_000,
    listeners: [
      {
        name: 'https',
        address: '127.0.0.1',
        port: httpsPort,
        tls: { certFile: fallback.certFile, keyFile: fallback.keyFile, alpn: ['http/1.1'], certificates: [api, web].map((c) => ({ certFile: c.certFile, keyFile: c.keyFile })) },
        virtualHosts: [
          { name: 'api', domains: ['api.test'], routes: [{ name: 'api', backends: [{ cluster: 'echo' }], requestHeaders: { set: { 'x-vhost': 'api' } } }] },
          { name: 'web', domains: ['web.test'], routes: [{ name: 'web', backends: [{ cluster: 'echo' }], requestHeaders: { set: { 'x-vhost': 'web' } } }] },
        ],
      },
      {
        name: 'http',
        address: '127.0.0.1',
        port: httpPort,
        xffTrustedHops: 1,
        virtualHosts: [
          {
            name: 'edge',
            routes: [
              route('jwt', '/jwt', { jwt: { issuer: 'https://issuer.test', audiences: ['api'], jwks: { url: `http://127.0.0.1:${authzPort}/jwks` }, claimHeaders: [{ claim: 'sub', header: 'x-user' }] } }),
              route('deny', '/deny', { ipFilter: { deny: ['203.0.113.0/24'] } }),
              route('allow', '/allow', { ipFilter: { allow: ['198.51.100.0/24'] } }),
              route('cors', '/cors', { cors: { allowOrigins: ['https://app.test'], allowMethods: ['GET', 'PUT'], allowHeaders: ['x-custom'], exposeHeaders: ['x-upstream'], maxAge: 600 } }),
              route('authz-closed', '/authz-closed', authzEdge(false)),
              route('authz-open', '/authz-open', authzEdge(true)),
              route('ws', '/ws', { ipFilter: { deny: ['203.0.113.0/24'] } }, 'ws'),
              route('grpc-jwt', '/skein.test.Echo/ClientStream', { jwt: { issuer: 'https://issuer.test', jwks: { url: `http://127.0.0.1:${authzPort}/jwks` } } }, 'grpc'),
              route('grpc', '/skein.test.Echo', { ipFilter: { allow: ['0.0.0.0/0'] } }, 'grpc'),
              { name: 'other', backends: [{ cluster: 'echo' }] },
            ],
          },
        ],
      },
    ],
    clusters: [
      { name: 'echo', endpoints: [{ address: '127.0.0.1', port: echo.port }] },
      { name: 'ws', endpoints: [{ address: '127.0.0.1', port: wsUp.port }] },
      { name: 'grpc', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: grpcUp.port }] },
    ],
  };
  proxy = await startProxyProcess(config, ['--mode', 'ingress', '--workers', '2'], [httpPort, httpsPort]);
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([echo?.close(), grpcUp?.close(), wsUp?.close(), new Promise((r) => authz?.close(r))]);
  for (const c of certs) c.remove();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, path, method, headers: { host: 'edge.test', ...headers }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** What the upstream saw of the request this answer is for (its echo body). */
const seen = (a: Answer): { path: string; headers: Record<string, string> } => JSON.parse(a.body);

function httpsGet(servername: string, host: string): Promise<Answer & { cn: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: httpsPort, path: '/sni', servername, headers: { host }, rejectUnauthorized: false, agent: false }, (res) => {
      const cert = (res.socket as tls.TLSSocket).getPeerCertificate();
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cn: String(cert.subject?.CN) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function handshake(opts: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: httpsPort, servername: 'api.test', rejectUnauthorized: false, ...opts }, () => {
      const v = s.getProtocol() ?? '';
      s.destroy();
      resolve(v);
    });
    s.on('error', () => resolve('refused'));
  });
}

describe('skein proxy --mode ingress', () => {
  it('runs the asked number of worker processes under one supervisor', () => {
    const children = readdirSync('/proc')
      .filter((d) => /^[0-9]+$/.test(d))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(proxy.child.pid);
        } catch {
          return false;
        }
      });
    expect(children.length).toBe(2);
  });

  it('two hostnames with different certificates, chosen by SNI, each routed by Host', async () => {
    const a = await httpsGet('api.test', 'api.test');
    const w = await httpsGet('web.test', `web.test:${httpsPort}`);
    expect([a.status, a.cn, seen(a).headers['x-vhost']]).toEqual([200, 'api.test', 'api']);
    expect([w.status, w.cn, seen(w).headers['x-vhost']]).toEqual([200, 'web.test', 'web']);
    expect(seen(a).headers['x-forwarded-proto']).toBe('https');
  });

  it('421 when Host does not match the SNI of the connection', async () => {
    const r = await httpsGet('api.test', 'web.test');
    expect(r.status).toBe(421);
    expect(r.headers['x-skein-error']).toBe('misdirected');
  });

  it('TLS 1.2 and 1.3 only, with AEAD suites only', async () => {
    expect(await handshake({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).toBe('refused');
    expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA' })).toBe('refused');
    expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).toBe('TLSv1.2');
    expect(await handshake({})).toBe('TLSv1.3');
  });

  it('normalizes the path before matching and forwards the canonical path; refuses an encoded slash', async () => {
    const r = await get('/jwt/../%61nything//x');
    expect(r.status).toBe(200);
    expect(seen(r).path).toBe('/anything/x');
    expect((await get('/jwt%2F..%2Fother')).status).toBe(400);
  });

  it('strips spoofed x-skein-* and keeps only the trusted x-forwarded-for hop, appending the peer', async () => {
    const r = await get('/other', { 'x-skein-client-id': 'spiffe://evil', 'x-forwarded-for': '10.9.9.9, 198.51.100.7', 'x-forwarded-proto': 'https' });
    const h = seen(r).headers;
    expect(h['x-skein-client-id']).toBeUndefined();
    expect(h['x-forwarded-for']).toBe('198.51.100.7, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('https');
  });

  it('JWT: 401 without a token, expired, or from the wrong issuer; 200 with a valid one (claim copied)', async () => {
    const none = await get('/jwt/x');
    expect([none.status, none.headers['x-skein-error'], none.headers['www-authenticate']]).toEqual([401, 'jwt-missing', 'Bearer']);
    const expired = await get('/jwt/x', { authorization: `Bearer ${await token({ expIn: -3600 })}` });
    expect([expired.status, expired.headers['x-skein-error']]).toEqual([401, 'jwt-expired']);
    const wrong = await get('/jwt/x', { authorization: `Bearer ${await token({ iss: 'https://evil.test' })}` });
    expect([wrong.status, wrong.headers['x-skein-error']]).toEqual([401, 'jwt-invalid']);
    const good = await get('/jwt/x', { authorization: `Bearer ${await token()}`, 'x-user': 'spoofed' });
    expect(good.status).toBe(200);
    expect(seen(good).headers['x-user']).toBe('user-7');
    expect(seen(good).headers.authorization).toBeUndefined();
  });

  it('IP deny list blocks and allow list passes behind one trusted hop; a spoofed extra hop is not believed', async () => {
    expect((await get('/deny', { 'x-forwarded-for': '203.0.113.5' })).status).toBe(403);
    expect((await get('/deny', { 'x-forwarded-for': '192.0.2.1, 203.0.113.5' })).status).toBe(403);
    expect((await get('/deny', { 'x-forwarded-for': '192.0.2.1' })).status).toBe(200);
    expect((await get('/allow', { 'x-forwarded-for': '198.51.100.7' })).status).toBe(200);
    const spoofed = await get('/allow', { 'x-forwarded-for': '198.51.100.7, 192.0.2.9' });
    expect([spoofed.status, spoofed.headers['x-skein-error']]).toEqual([403, 'ip-denied']);
  });

  it('CORS: the preflight is answered by the proxy; the actual response is decorated', async () => {
    const before = echo.seen.length;
    const pre = await get('/cors', { origin: 'https://app.test', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-custom' }, 'OPTIONS');
    expect(pre.status).toBe(200);
    expect(pre.headers).toMatchObject({ 'access-control-allow-origin': 'https://app.test', 'access-control-allow-methods': 'GET, PUT', 'access-control-allow-headers': 'x-custom', 'access-control-max-age': '600' });
    expect(echo.seen.length).toBe(before);
    const actual = await get('/cors', { origin: 'https://app.test' });
    expect(actual.headers).toMatchObject({ 'access-control-allow-origin': 'https://app.test', 'access-control-expose-headers': 'x-upstream', vary: 'Origin' });
    const other = await get('/cors', { origin: 'https://evil.test' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('external authorization: allow (header added upstream), deny (status and body passed back), timeout in both fail modes', async () => {
    const allowed = await get('/authz-closed/a', { 'x-authz': 'allow' });
    expect(allowed.status).toBe(200);
    expect(seen(allowed).headers['x-user']).toBe('alice');
    const denied = await get('/authz-closed/a', { 'x-authz': 'deny' });
    expect([denied.status, denied.body, denied.headers['x-skein-error']]).toEqual([403, 'nope', 'ext-authz-denied']);
    const closed = await get('/authz-closed/a', { 'x-authz': 'hang' });
    expect([closed.status, closed.headers['x-skein-error']]).toEqual([503, 'ext-authz-unavailable']);
    const open = await get('/authz-open/a', { 'x-authz': 'hang' });
    expect(open.status).toBe(200);
    expect(authzAsked).toBeGreaterThanOrEqual(4);
  });

  it('a WebSocket echo through the ingress, and its route policy applies to the upgrade', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/ws`, { headers: { host: 'edge.test' } });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send('hello'));
      ws.once('message', (d) => resolve(d.toString()));
      ws.once('error', reject);
    });
    ws.close();
    expect(reply).toBe('echo:hello');
    const blocked = new WebSocket(`ws://127.0.0.1:${httpPort}/ws`, { headers: { host: 'edge.test', 'x-forwarded-for': '203.0.113.9' } });
    const status = await new Promise<number>((resolve) => {
      blocked.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      blocked.once('open', () => resolve(101));
      blocked.once('error', () => resolve(-1));
    });
    blocked.terminate();
    expect(status).toBe(403);
  });

  it('gRPC unary and bidirectional streaming calls through the ingress; UNAUTHENTICATED from the JWT layer', async () => {
    const pkg = loadEchoService() as any;
    const client = new pkg.skein.test.Echo(`127.0.0.1:${httpPort}`, grpc.credentials.createInsecure());
    const out = await new Promise<EchoMsg>((resolve, reject) => client.Unary({ text: 'hi', count: 1 }, (e: Error | null, m: EchoMsg) => (e ? reject(e) : resolve(m))));
    const bidi = client.Bidi();
    const got: string[] = [];
    const done = new Promise<number>((resolve) => bidi.on('status', (st: grpc.StatusObject) => resolve(st.code)));
    bidi.on('data', (m: EchoMsg) => got.push(m.text));
    bidi.write({ text: 'a', count: 0 });
    bidi.write({ text: 'b', count: 1 });
    bidi.end();
    expect(await done).toBe(grpc.status.OK);
    expect(got).toEqual(['bidi:a', 'bidi:b']);
    // A gRPC client refused by the JWT layer gets UNAUTHENTICATED, not an HTTP 401 it cannot read.
    const refused = await new Promise<grpc.ServiceError>((resolve) => {
      const call = client.ClientStream((e: grpc.ServiceError) => resolve(e));
      call.write({ text: 'x', count: 0 });
      call.end();
    });
    client.close();
    expect(out).toEqual({ text: 'echo:hi', count: 2 });
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('SIGTERM stops every worker and the supervisor exits 0', async () => {
    expect(await proxy.stop()).toBe(0);
  });
});
