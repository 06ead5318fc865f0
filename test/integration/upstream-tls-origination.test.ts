// TLS originated to a backend's own server (a cluster's upstreamTls, what a BackendTLSPolicy becomes): the proxy sends the
// SNI, verifies the server certificate against the cluster's CAs and its name (or the subjectAltNames given), and a backend
// whose certificate fails answers 503 with x-skein-error: upstream-tls, never reaching it in clear; a bad CA is a NACK.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { spiffeId } from '../../api/proto/identity.ts';
import { TestCa as MeshCa, testWorkload, type TestWorkload } from '../support/mesh-identity-fixture.ts';
import { testConfig } from '../support/proxy-fixture.ts';
import { makeTestCa, type TestCa, type TestCert } from '../support/test-cert.ts';

let caA: TestCa;
let caB: TestCa;
let serverCert: TestCert;
let backend: https.Server;
let backendPort = 0;
/** A backend that requires a client certificate of caA (what a Gateway's spec.tls.backend.clientCertificateRef is for). */
let mtlsBackend: https.Server;
let mtlsPort = 0;
let gatewayClient: TestCert;
const clientsSeen: string[] = [];
let proxy: RunningProxy;
/** What the backend saw of each request: the SNI of its TLS session and the path. */
const seen: { sni: string; path: string }[] = [];

const cluster = (name: string, upstreamTls: Record<string, unknown>, port = (): number => backendPort) => ({ name, endpoints: [{ address: '127.0.0.1', port: port() }], upstreamTls });
const route = (name: string) => ({ name, match: { path: { type: 'prefix', value: `/${name}` } }, backends: [{ cluster: name }] });

beforeAll(async () => {
  caA = makeTestCa('backend-ca');
  caB = makeTestCa('other-ca');
  serverCert = caA.issue('abc.example.com', { eku: 'serverAuth', names: ['abc.example.com'], uris: ['spiffe://abc.example.com/test-identity'] });
  backend = https.createServer({ cert: readFileSync(serverCert.certFile), key: readFileSync(serverCert.keyFile) }, (req, res) => {
    seen.push({ sni: (req.socket as TLSSocket).servername || '', path: req.url ?? '' });
    res.end('from the TLS backend');
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  backendPort = (backend.address() as AddressInfo).port;
  gatewayClient = caA.issue('gateway-client');
  mtlsBackend = https.createServer({ cert: readFileSync(serverCert.certFile), key: readFileSync(serverCert.keyFile), ca: readFileSync(caA.certFile), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    clientsSeen.push((req.socket as TLSSocket).getPeerX509Certificate()?.subject ?? '');
    res.end('from the mTLS backend');
  });
  await new Promise<void>((r) => mtlsBackend.listen(0, '127.0.0.1', r));
  mtlsPort = (mtlsBackend.address() as AddressInfo).port;
  const names = ['good', 'wrong-ca', 'wrong-name', 'san-uri', 'san-dns-mismatch', 'san-uri-mismatch', 'client-cert', 'no-client-cert'];
  proxy = await startProxy(
    testConfig({
      mode: 'ingress',
      listeners: [{ name: 'edge', address: '127.0.0.1', port: 0, direction: 'ingress', virtualHosts: [{ name: 'any', domains: ['*'], routes: names.map(route) }] }],
      clusters: [
        cluster('good', { sni: 'abc.example.com', caFiles: [caA.certFile] }),
        cluster('wrong-ca', { sni: 'abc.example.com', caFiles: [caB.certFile] }),
        cluster('wrong-name', { sni: 'mismatch.example.com', caFiles: [caA.certFile] }),
        cluster('san-uri', { sni: 'abc.example.com', caFiles: [caA.certFile], subjectAltNames: [{ type: 'uri', value: 'spiffe://abc.example.com/test-identity' }] }),
        cluster('san-dns-mismatch', { sni: 'abc.example.com', caFiles: [caA.certFile], subjectAltNames: [{ type: 'dns', value: 'dce.example.com' }] }),
        cluster('san-uri-mismatch', { sni: 'abc.example.com', caFiles: [caA.certFile], subjectAltNames: [{ type: 'uri', value: 'spiffe://def.example.com/test-identity' }] }),
        cluster('client-cert', { sni: 'abc.example.com', caFiles: [caA.certFile], clientCertificate: { certFile: gatewayClient.certFile, keyFile: gatewayClient.keyFile } }, () => mtlsPort),
        cluster('no-client-cert', { sni: 'abc.example.com', caFiles: [caA.certFile] }, () => mtlsPort),
      ],
    }),
  );
}, 30_000);

afterAll(async () => {
  await proxy?.close();
  await new Promise((r) => backend?.close(r));
  await new Promise((r) => mtlsBackend?.close(r));
  for (const c of [caA, caB]) c?.remove();
});

function get(path: string): Promise<{ status: number; cause: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.listeners.get('edge')!.port, path, headers: { host: 'edge.test' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cause: res.headers['x-skein-error'] as string | undefined, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS originated to a backend (cluster upstreamTls)', () => {
  it('a certificate of the CA for the SNI is served, with that SNI', async () => {
    const r = await get('/good');
    expect(r).toMatchObject({ status: 200, body: 'from the TLS backend' });
    expect(seen.at(-1)).toEqual({ sni: 'abc.example.com', path: '/good' });
  });

  it('another CA, or a certificate for another name than the SNI: 503 upstream-tls, and the backend never sees the request', async () => {
    const before = seen.length;
    expect(await get('/wrong-ca')).toMatchObject({ status: 503, cause: 'upstream-tls' });
    expect(await get('/wrong-name')).toMatchObject({ status: 503, cause: 'upstream-tls' });
    expect(seen.length).toBe(before);
  });

  it('subjectAltNames replace the SNI check: a URI SAN the certificate has is served, a DNS or URI SAN it lacks is refused', async () => {
    expect(await get('/san-uri')).toMatchObject({ status: 200 });
    expect(seen.at(-1)).toEqual({ sni: 'abc.example.com', path: '/san-uri' });
    const before = seen.length;
    expect(await get('/san-dns-mismatch')).toMatchObject({ status: 503, cause: 'upstream-tls' });
    expect(await get('/san-uri-mismatch')).toMatchObject({ status: 503, cause: 'upstream-tls' });
    expect(seen.length).toBe(before);
  });

  it('a client certificate is presented to a backend that asks for one; without it that backend refuses: 503 upstream-tls', async () => {
    expect(await get('/client-cert')).toMatchObject({ status: 200, body: 'from the mTLS backend' });
    expect(clientsSeen).toEqual(['CN=gateway-client']);
    expect(await get('/no-client-cert')).toMatchObject({ status: 503 });
    expect(clientsSeen).toHaveLength(1);
  });

  it('a CA secret without a trust bundle refuses the change; the cluster keeps originating as before', async () => {
    const c = proxy.runtime.config.clusters.find((x) => x.name === 'good')!;
    const outcome = await proxy.runtime.applyChangeSet({
      version: 'bad-ca',
      upserts: [
        { type: 'secret', name: 'no-bundle', version: 'bad-ca', body: { certificateChain: readFileSync(serverCert.certFile, 'utf8'), privateKey: readFileSync(serverCert.keyFile, 'utf8') } },
        { type: 'cluster', name: 'good', version: 'bad-ca', body: { ...c, upstreamTls: { sni: 'abc.example.com', caSecrets: ['no-bundle'] } } },
      ],
      removals: [],
    });
    expect(outcome.ok).toBe(false);
    expect(JSON.stringify(!outcome.ok && outcome.reasons)).toContain('needs a trustBundle');
    expect(await get('/good')).toMatchObject({ status: 200 });
  });
});

describe('TLS originated to a meshed backend: inside mesh mTLS, through its sidecar to the app unread', () => {
  const meshCa = new MeshCa();
  const INGRESS = spiffeId('cluster.local', 'skein-system', 'skein-ingress');
  const APP = spiffeId('cluster.local', 'infra', 'tls-backend');
  let ingressW: TestWorkload;
  let appW: TestWorkload;
  let sidecar: RunningProxy;
  let ingress: RunningProxy;

  beforeAll(async () => {
    ingressW = await testWorkload(meshCa, INGRESS);
    appW = await testWorkload(meshCa, APP);
    // The app's sidecar: a permissive inbound whose opaque TCP goes to the TLS app (the backend of the first describe).
    sidecar = await startProxy(
      testConfig({
        listeners: [{ name: 'inbound', address: '127.0.0.1', port: 0, direction: 'inbound', mtls: { mode: 'permissive' }, tcpCluster: 'app', virtualHosts: [] }],
        clusters: [{ name: 'app', endpoints: [{ address: '127.0.0.1', port: backendPort }] }],
        limits: { protocolDetectTimeoutMs: 50 },
      }),
      { identity: appW.manager, metrics: appW.metrics },
    );
    const inboundPort = sidecar.listeners.get('inbound')!.port;
    ingress = await startProxy(
      testConfig({
        mode: 'ingress',
        listeners: [{ name: 'edge', address: '127.0.0.1', port: 0, direction: 'ingress', virtualHosts: [{ name: 'any', domains: ['*'], routes: [route('meshed'), route('meshed-wrong-ca')] }] }],
        clusters: [
          { name: 'meshed', meshTls: {}, endpoints: [{ address: '127.0.0.1', port: inboundPort, identity: APP }], upstreamTls: { sni: 'abc.example.com', caFiles: [caA.certFile] } },
          { name: 'meshed-wrong-ca', meshTls: {}, endpoints: [{ address: '127.0.0.1', port: inboundPort, identity: APP }], upstreamTls: { sni: 'abc.example.com', caFiles: [caB.certFile] } },
        ],
      }),
      { identity: ingressW.manager, metrics: ingressW.metrics },
    );
  }, 30_000);

  afterAll(async () => {
    await ingress?.close();
    await sidecar?.close();
    for (const w of [ingressW, appW]) w?.manager.stop();
  });

  const viaIngress = (path: string): Promise<{ status: number; cause: string | undefined; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: ingress.listeners.get('edge')!.port, path, headers: { host: 'edge.test' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cause: res.headers['x-skein-error'] as string | undefined, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it("the app's certificate is verified end to end and it sees the ingress's SNI; another CA is refused", async () => {
    expect(await viaIngress('/meshed')).toMatchObject({ status: 200, body: 'from the TLS backend' });
    expect(seen.at(-1)).toEqual({ sni: 'abc.example.com', path: '/meshed' });
    const before = seen.length;
    expect(await viaIngress('/meshed-wrong-ca')).toMatchObject({ status: 503, cause: 'upstream-tls' });
    expect(seen.length).toBe(before);
  });
});
