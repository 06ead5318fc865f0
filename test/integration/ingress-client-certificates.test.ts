// Client certificate validation at the edge (a Gateway's spec.tls.frontend, the proxy's tls.clientValidation): a TLS
// listener that requires a certificate refuses a client without one and one whose certificate another CA signed, and
// serves one with a certificate of its CA; in allow-insecure-fallback mode it serves all three; a CA that is not a CA
// certificate is refused as a config change, and the listener keeps what it had.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { testConfig } from '../support/proxy-fixture.ts';
import { makeTestCa, makeTestCert, type TestCa, type TestCert } from '../support/test-cert.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';

let up: Upstream;
let proxy: RunningProxy;
let server: TestCert;
let caA: TestCa;
let caB: TestCa;
let good: TestCert;
let wrong: TestCert;
let serverOnly: TestCert;

const listener = (name: string, mode: string, caFiles: string[]) => ({
  name,
  address: '127.0.0.1',
  port: 0,
  direction: 'ingress',
  tls: { certFile: server.certFile, keyFile: server.keyFile, alpn: ['h2', 'http/1.1'], clientValidation: { caFiles, mode } },
  virtualHosts: [{ name: `${name}-any`, domains: ['*'], routes: [{ name: `${name}-r`, backends: [{ cluster: 'up' }] }] }],
});

beforeAll(async () => {
  up = await startHttpUpstream('h1', { id: 'backend' });
  server = makeTestCert(['edge.test']);
  caA = makeTestCa('ca-a');
  caB = makeTestCa('ca-b');
  good = caA.issue('client-a');
  wrong = caB.issue('client-b');
  // Signed by the right CA, but for servers only: not a client certificate.
  serverOnly = caA.issue('server-a', { eku: 'serverAuth' });
  proxy = await startProxy(
    testConfig({
      mode: 'ingress',
      listeners: [listener('strict', 'require', [caA.certFile]), listener('fallback', 'allow-insecure-fallback', [caA.certFile])],
      clusters: [{ name: 'up', endpoints: [{ address: '127.0.0.1', port: up.port }] }],
    }),
  );
}, 30_000);

afterAll(async () => {
  await proxy?.close();
  await up?.close();
  for (const c of [server, caA, caB]) c?.remove();
});

type Outcome = { status: number } | { error: string };

/** One HTTPS request with (or without) a client certificate: the status, or the error that ended it. */
function request(port: number, client: TestCert | null): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        servername: 'edge.test',
        headers: { host: 'edge.test' },
        ca: readFileSync(server.certFile),
        agent: false,
        ...(client !== null ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

const port = (name: string): number => proxy.listeners.get(name)!.port;
const refusedCount = async (name: string): Promise<number> =>
  Number(new RegExp(`listener="${name}",cause="client-certificate"[^}]*} (\\d+)`).exec(await proxy.runtime.metrics.registry.getSingleMetricAsString('skein_proxy_errors_total'))?.[1] ?? 0);

describe('client certificate validation at the edge', () => {
  it('require: a certificate of the CA is served; none, another CA\'s, or a server-only one is refused and counted', async () => {
    expect(await request(port('strict'), good)).toMatchObject({ status: 200 });
    expect(up.seen.length).toBe(1);
    const none = await request(port('strict'), null);
    expect(none).toHaveProperty('error');
    const other = await request(port('strict'), wrong);
    expect(other).toHaveProperty('error');
    const notClient = await request(port('strict'), serverOnly);
    expect(notClient).toHaveProperty('error');
    // None of them reached the backend.
    expect(up.seen.length).toBe(1);
    expect(await refusedCount('strict')).toBe(3);
  });

  it('allow-insecure-fallback: a certificate is asked for, and every client is served', async () => {
    const before = up.seen.length;
    expect(await request(port('fallback'), good)).toMatchObject({ status: 200 });
    expect(await request(port('fallback'), wrong)).toMatchObject({ status: 200 });
    expect(await request(port('fallback'), null)).toMatchObject({ status: 200 });
    expect(up.seen.length).toBe(before + 3);
    expect(await refusedCount('fallback')).toBe(0);
  });

  it('a CA file that holds no CA certificate refuses the change; the listener keeps validating with its CA', async () => {
    const notCa = join(good.dir, 'not-a-ca.pem');
    writeFileSync(notCa, readFileSync(good.certFile));
    const l = proxy.runtime.config.listeners.find((x) => x.name === 'strict')!;
    const { virtualHosts: _vh, ...rest } = l;
    const outcome = await proxy.runtime.applyChangeSet({
      version: 'bad-ca',
      upserts: [{ type: 'listener', name: 'strict', version: 'bad-ca', body: { ...rest, routeTable: 'strict', tls: { ...rest.tls!, clientValidation: { caFiles: [notCa], mode: 'require' } } } }],
      removals: [],
    });
    expect(outcome.ok).toBe(false);
    expect(JSON.stringify(!outcome.ok && outcome.reasons)).toContain('is not a CA certificate');
    expect(await request(port('strict'), good)).toMatchObject({ status: 200 });
    expect(await request(port('strict'), wrong)).toHaveProperty('error');
  });
});
