// e2e: the ingress on the local cluster, installed from manifests/ as a user installs it and fed by the control plane from
// Gateway API objects and an Ingress object; every journey is a client on the host reaching meshed backends through the
// Gateway's address: HTTPS with SNI for two hostnames (each its own certificate) and HTTP redirected to HTTPS, a 95/5 canary
// split, JWT authentication, a rate limit, IP deny and allow lists behind one trusted proxy hop, a WebSocket echo and a
// bidirectional gRPC stream, the ingress's own mesh identity at the backend, a plain Ingress object, and an invalid route that
// gets its status reason and breaks nothing else. One cluster; every object is applied up front.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type * as k8s from '@kubernetes/client-node';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MESH_NAMESPACE, PROXY_HEALTH_PORT, PROXY_PROMETHEUS_PATH } from '../../api/mesh/mesh-constants.ts';
import { applyCrds, waitCrdsEstablished } from '../../local-cluster/apply-crds.ts';
import { readManifests } from '../../local-cluster/apply-manifests.ts';
import { gatewayApiCrdTexts } from '../../local-cluster/gateway-api-crds.ts';
import { REPO_ROOT } from '../../local-cluster/images/skein-images.ts';
import { exampleDeployment, startLocalMesh, type LocalMesh } from '../support/local-mesh.ts';
import { makeTestCert, type TestCert } from '../support/test-cert.ts';
import { waitFor } from './wait-for.ts';

const NS = 'e2e-ingress';
const GATEWAY = 'edge';
const GW = { group: 'gateway.networking.k8s.io', version: 'v1' } as const;
/** The ingress's own mesh identity (manifests/ingress: ServiceAccount skein-ingress in skein-system). */
const INGRESS_ID = `spiffe://cluster.local/ns/${MESH_NAMESPACE}/sa/skein-ingress`;
const ISSUER = 'https://issuer.e2e.test';
const AUDIENCE = 'skein-e2e';
const RATE = { requestsPerSecond: 1, burst: 5 } as const;
/** Client addresses as the one trusted proxy in front of the ingress reports them (documentation ranges, RFC 5737). */
const DENIED_NET = '203.0.113.0/24';
const ALLOWED_NET = '198.51.100.0/24';

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** The certificate the server presented (TLS only). */
  readonly cert?: tls.PeerCertificate;
}

/** What examples/echo answers: its pod and the request it saw. */
interface EchoSeen {
  readonly pod: string;
  readonly url: string;
  readonly headers: Record<string, string | undefined>;
}

function echoOf(a: Answer): EchoSeen | null {
  try {
    return JSON.parse(a.body) as EchoSeen;
  } catch {
    return null;
  }
}

/** One request to the ingress at `address`, with `host` as Host (and as SNI over TLS), on a new connection unless an agent is given. */
function send(address: string, port: number, host: string, path = '/', o: { readonly tls?: boolean; readonly headers?: Record<string, string>; readonly agent?: http.Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const opts = { host: address, port, path, headers: { host, ...o.headers }, agent: o.agent ?? false, timeout: 15_000 };
    const onResponse = (res: http.IncomingMessage): void => {
      const cert = o.tls ? (res.socket as tls.TLSSocket).getPeerCertificate() : undefined;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ...(cert ? { cert } : {}) }));
      res.on('error', reject);
    };
    const req = o.tls ? https.request({ ...opts, servername: host, rejectUnauthorized: false }, onResponse) : http.request(opts, onResponse);
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host} at ${address}:${port}${path} in 15 s`)));
    req.on('error', reject);
    req.end();
  });
}

function service(name: string, port: number, targetPort: number, portName: string): k8s.KubernetesObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { selector: { app: name }, ports: [{ name: portName, port, targetPort }] } } as k8s.KubernetesObject;
}

function tlsSecret(name: string, cert: TestCert): k8s.KubernetesObject {
  return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name, namespace: NS }, stringData: { 'tls.crt': readFileSync(cert.certFile, 'utf8'), 'tls.key': readFileSync(cert.keyFile, 'utf8') } } as k8s.KubernetesObject;
}

/** An HTTPRoute on one listener of the Gateway, for `hostnames`, with an optional edge-policy annotation. */
function httpRoute(name: string, sectionNames: readonly string[], spec: Record<string, unknown>, edgePolicy?: Record<string, unknown>): k8s.KubernetesObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: NS, ...(edgePolicy ? { annotations: { 'skein.dev/edge-policy': JSON.stringify(edgePolicy) } } : {}) },
    spec: { parentRefs: sectionNames.map((sectionName) => ({ name: GATEWAY, sectionName })), ...spec },
  } as k8s.KubernetesObject;
}

const toWeb = (hostnames: readonly string[]) => ({ hostnames, rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] });

function objects(certs: { readonly a: TestCert; readonly b: TestCert }, jwks: readonly Record<string, unknown>[]): k8s.KubernetesObject[] {
  const httpsListener = (name: string, hostname: string, secret: string) => ({ name, port: 443, protocol: 'HTTPS', hostname, tls: { mode: 'Terminate', certificateRefs: [{ name: secret }] } });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'skein.dev/inject': 'enabled' } } },
    service('web', 80, 8080, 'http'),
    service('web-canary', 80, 8080, 'http'),
    service('grpc-echo', 9090, 9090, 'grpc'),
    exampleDeployment({ namespace: NS, name: 'web', app: 'echo' }),
    exampleDeployment({ namespace: NS, name: 'web-canary', app: 'echo' }),
    exampleDeployment({ namespace: NS, name: 'grpc-echo', app: 'grpc-echo', port: 9090 }),
    tlsSecret('a-cert', certs.a),
    tlsSecret('b-cert', certs.b),
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      // One trusted proxy (a load balancer) in front of the ingress: it appends the client's address to x-forwarded-for.
      metadata: { name: GATEWAY, namespace: NS, annotations: { 'skein.dev/edge-policy': JSON.stringify({ xffTrustedHops: 1 }) } },
      spec: { gatewayClassName: 'skein', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }, httpsListener('https-a', 'a.e2e.test', 'a-cert'), httpsListener('https-b', 'b.e2e.test', 'b-cert')] },
    } as k8s.KubernetesObject,
    httpRoute('to-https', ['http'], { hostnames: ['a.e2e.test', 'b.e2e.test'], rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] }] }),
    httpRoute('sites', ['https-a', 'https-b'], { rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] }),
    httpRoute('canary', ['http'], { hostnames: ['canary.e2e.test'], rules: [{ backendRefs: [{ name: 'web', port: 80, weight: 95 }, { name: 'web-canary', port: 80, weight: 5 }] }] }),
    httpRoute('jwt', ['http'], toWeb(['jwt.e2e.test']), { jwt: { issuer: ISSUER, audiences: [AUDIENCE], jwks: { keys: jwks } } }),
    httpRoute('limited', ['http'], toWeb(['limited.e2e.test']), { rateLimit: RATE }),
    httpRoute('deny', ['http'], toWeb(['deny.e2e.test']), { ipFilter: { deny: [DENIED_NET] } }),
    httpRoute('allow', ['http'], toWeb(['allow.e2e.test']), { ipFilter: { allow: [ALLOWED_NET] } }),
    // The app serves its WebSocket echo on /ws; clients use /socket (the rewrite applies to the upgrade too).
    httpRoute('ws', ['http'], { hostnames: ['ws.e2e.test'], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/socket' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/ws' } } }], backendRefs: [{ name: 'web', port: 80 }] }] }),
    httpRoute('broken', ['http'], { hostnames: ['broken.e2e.test'], rules: [{ backendRefs: [{ name: 'nope', port: 80 }] }] }),
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GRPCRoute',
      metadata: { name: 'grpc', namespace: NS },
      spec: { parentRefs: [{ name: GATEWAY, sectionName: 'http' }], hostnames: ['grpc.e2e.test'], rules: [{ backendRefs: [{ name: 'grpc-echo', port: 9090 }] }] },
    } as k8s.KubernetesObject,
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'plain', namespace: NS },
      spec: { ingressClassName: 'skein', rules: [{ host: 'plain.e2e.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http' } } } }] } }] },
    } as k8s.KubernetesObject,
  ];
}

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
}

describe('the ingress on the local cluster', () => {
  let mesh: LocalMesh;
  let custom: k8s.CustomObjectsApi;
  /** The Gateway's address (status.addresses: the ClusterIP of its own Service, reached from the host through kube-proxy). */
  let gateway: string;
  /** The address of the shared skein-ingress Service (every Gateway's listeners, and the Ingress objects). */
  let shared: string;
  let workers: number;
  let certs: { a: TestCert; b: TestCert };
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let EchoClient: grpc.ServiceClientConstructor;

  const at = (host: string, path = '/', o: Parameters<typeof send>[4] = {}) => send(gateway, o.tls ? 443 : 80, host, path, o);
  /** Polls until `host` answers `path` with `status` at the Gateway (the control plane's push reaches the ingress). */
  const served = (host: string, status = 200, path = '/', o: Parameters<typeof send>[4] = {}) =>
    waitFor(`${host}${path} answering ${status} through the ingress`, async () => {
      const r = await at(host, path, o);
      return r.status === status ? r : undefined;
    }, 90_000);
  const token = (claims: { iss?: string; exp?: number }) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: 'e2e-user' })
      .setProtectedHeader({ alg: 'ES256', kid: 'e2e' })
      .setIssuer(claims.iss ?? ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now - 7200)
      .setExpirationTime(claims.exp ?? now + 600)
      .sign(privateKey);
  };

  beforeAll(async () => {
    const def = protoLoader.loadSync(join(REPO_ROOT, 'examples/grpc-echo/echo.proto'), { keepCase: true });
    EchoClient = (grpc.loadPackageDefinition(def) as unknown as { skein: { examples: { Echo: grpc.ServiceClientConstructor } } }).skein.examples.Echo;
    certs = { a: makeTestCert(['a.e2e.test']), b: makeTestCert(['b.e2e.test']) };
    const keys = await generateKeyPair('ES256', { extractable: true });
    privateKey = keys.privateKey;
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'e2e', alg: 'ES256', use: 'sig' };

    mesh = await startLocalMesh();
    custom = mesh.kc.makeApiClient(CustomObjectsApi);
    // The GatewayClass of manifests/ingress needs the Gateway API CRDs (from the Go module, as `skein demo` installs them).
    await waitCrdsEstablished(mesh.kc, await applyCrds(mesh.kc, await gatewayApiCrdTexts()), 60_000);
    const ingress = readManifests(join(REPO_ROOT, 'manifests', 'ingress'));
    const args = (ingress.find((o) => o.kind === 'Deployment') as k8s.V1Deployment | undefined)?.spec?.template.spec?.containers[0]?.args ?? [];
    workers = Number(args.find((a) => a.startsWith('--workers='))?.slice('--workers='.length) ?? 1);
    await mesh.deploy([...ingress, ...objects(certs, [jwk])], 240_000);

    type GatewayStatus = { status?: { addresses?: { value: string }[]; conditions?: Condition[] } };
    gateway = await waitFor('the Gateway Programmed with an address', async () => {
      const o = (await custom.getNamespacedCustomObject({ ...GW, namespace: NS, plural: 'gateways', name: GATEWAY })) as GatewayStatus;
      const programmed = o.status?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True');
      return programmed ? o.status?.addresses?.[0]?.value : undefined;
    }, 120_000);
    shared = (await mesh.core.readNamespacedService({ name: 'skein-ingress', namespace: MESH_NAMESPACE })).spec!.clusterIP!;
  }, 900_000);

  afterAll(async () => {
    await mesh?.stop();
    certs?.a.remove();
    certs?.b.remove();
  });

  it('HTTPS with SNI: each hostname gets the certificate of its own Secret; HTTP redirects to HTTPS', async () => {
    const fingerprint = (c: TestCert) => new X509Certificate(readFileSync(c.certFile)).fingerprint256;
    const a = await served('a.e2e.test', 200, '/site', { tls: true });
    expect(a.cert?.fingerprint256).toBe(fingerprint(certs.a));
    expect(echoOf(a)?.url).toBe('/site');
    const b = await at('b.e2e.test', '/site', { tls: true });
    expect(b.status).toBe(200);
    expect(b.cert?.fingerprint256).toBe(fingerprint(certs.b));
    expect(fingerprint(certs.a)).not.toBe(fingerprint(certs.b));

    const redirect = await served('a.e2e.test', 301, '/x?y=1');
    expect(redirect.headers.location).toMatch(/^https:\/\/a\.e2e\.test(:443)?\/x\?y=1$/);
    // Following it reaches the site over HTTPS.
    const followed = await at('a.e2e.test', '/x?y=1', { tls: true });
    expect([followed.status, echoOf(followed)?.url]).toEqual([200, '/x?y=1']);
    expect((await at('b.e2e.test', '/y')).status).toBe(301);
  });

  it('the backend sees the ingress\'s own mesh identity in x-skein-client-id (ingress -> backend is mTLS); a client cannot forge it', async () => {
    const r = await served('a.e2e.test', 200, '/who', { tls: true, headers: { 'x-skein-client-id': 'spiffe://evil/ns/x/sa/y' } });
    expect(echoOf(r)?.headers['x-skein-client-id']).toBe(INGRESS_ID);
    // On the wire: web's sidecar terminated a verified mTLS connection from that identity.
    const pod = (await mesh.core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' })).items.find((p) => p.status?.podIP && !p.metadata?.deletionTimestamp)!;
    const metrics = await (await fetch(`http://${pod.status!.podIP!}:${PROXY_HEALTH_PORT}${PROXY_PROMETHEUS_PATH}`, { signal: AbortSignal.timeout(10_000) })).text();
    const line = metrics.split('\n').find((l) => l.startsWith('skein_requests_total{') && l.includes('direction="inbound"') && l.includes('mtls="true"') && l.includes(`source_identity="${INGRESS_ID}"`));
    expect(line, 'an inbound mTLS request from the ingress in web\'s sidecar metrics').toBeDefined();
  });

  it('a 95/5 canary split lands within 2 points over 4000 requests', async () => {
    await served('canary.e2e.test');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const byApp = new Map<string, number>();
    try {
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < 4000) {
          next++;
          const r = await at('canary.e2e.test', '/split', { agent });
          // The pod name says which Deployment answered (web-<hash>-<id> or web-canary-<hash>-<id>).
          const app = r.status === 200 ? (echoOf(r)?.pod.startsWith('web-canary-') ? 'canary' : 'web') : `status ${r.status}`;
          byApp.set(app, (byApp.get(app) ?? 0) + 1);
        }
      }));
    } finally {
      agent.destroy();
    }
    expect([...byApp.keys()].sort()).toEqual(['canary', 'web']);
    const canary = byApp.get('canary')!;
    expect(canary + byApp.get('web')!).toBe(4000);
    expect(Math.abs((100 * canary) / 4000 - 5), `canary answered ${canary} of 4000`).toBeLessThanOrEqual(2);
  });

  it('a JWT-protected route: 401 without a token, with an expired one and with a wrong issuer\'s; 200 with a valid one', async () => {
    const missing = await served('jwt.e2e.test', 401, '/private');
    expect(missing.headers['x-skein-error']).toBe('jwt-missing');
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    const bearer = async (t: string) => at('jwt.e2e.test', '/private', { headers: { authorization: `Bearer ${t}` } });
    const now = Math.floor(Date.now() / 1000);
    const expired = await bearer(await token({ exp: now - 3600 }));
    expect([expired.status, expired.headers['x-skein-error']]).toEqual([401, 'jwt-expired']);
    const wrongIssuer = await bearer(await token({ iss: 'https://someone-else.e2e.test' }));
    expect([wrongIssuer.status, wrongIssuer.headers['x-skein-error']]).toEqual([401, 'jwt-invalid']);
    const valid = await bearer(await token({}));
    expect(valid.status).toBe(200);
    // Verified at the edge and not passed on (forwardToken false).
    expect(echoOf(valid)?.headers.authorization).toBeUndefined();
  });

  it('a rate limit answers 429 past its rate: a burst well past the bucket is cut to what the buckets hold', async () => {
    await served('limited.e2e.test');
    const total = 60;
    const statuses: number[] = [];
    const t0 = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: 6 }, async () => {
      while (next < total) {
        next++;
        statuses.push((await at('limited.e2e.test', '/burst')).status);
      }
    }));
    const seconds = (Date.now() - t0) / 1000;
    const passed = statuses.filter((s) => s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    expect(passed + limited, `statuses: ${statuses.join(',')}`).toBe(total);
    // One bucket for the whole ingress, however many workers (docs/proxy-config.md, "Local rate limit"): at most the
    // burst plus what refilled meanwhile.
    const most = Math.ceil(RATE.burst + RATE.requestsPerSecond * seconds);
    expect(passed, `${passed} passed in ${seconds.toFixed(1)} s with ${workers} workers`).toBeLessThanOrEqual(most);
    expect(passed).toBeGreaterThanOrEqual(1);
    expect(limited).toBeGreaterThanOrEqual(Math.max(1, total - most));
    const r = await at('limited.e2e.test', '/again');
    if (r.status === 429) expect(r.headers['x-skein-error']).toBe('rate-limited');
  });

  it('IP deny and allow lists judge the client the one trusted proxy hop reports in x-forwarded-for', async () => {
    const from = (host: string, xff: string) => at(host, '/ip', { headers: { 'x-forwarded-for': xff } });
    await served('deny.e2e.test');
    const denied = await from('deny.e2e.test', '203.0.113.7');
    expect([denied.status, denied.headers['x-skein-error']]).toEqual([403, 'ip-denied']);
    expect((await from('deny.e2e.test', '192.0.2.10')).status).toBe(200);
    // A client's own entry further left is never believed: the hop's (rightmost) entry decides.
    expect((await from('deny.e2e.test', '192.0.2.10, 203.0.113.7')).status).toBe(403);

    const allowed = await from('allow.e2e.test', '198.51.100.9');
    expect(allowed.status).toBe(200);
    expect((await from('allow.e2e.test', '203.0.113.7')).status).toBe(403);
    expect((await from('allow.e2e.test', '198.51.100.9, 203.0.113.7')).status).toBe(403);
    // The backend sees the entry the trusted hop wrote first, then the addresses the ingress (and web's sidecar) saw.
    expect(echoOf(allowed)?.headers['x-forwarded-for']).toMatch(/^198\.51\.100\.9(, [0-9a-f.:]+){1,2}$/);
  });

  it('a WebSocket echo passes through the ingress, with its route\'s URL rewrite', async () => {
    expect(echoOf(await served('ws.e2e.test', 200, '/socket'))?.url).toBe('/ws');
    const ws = new WebSocket(`ws://${gateway}:80/socket`, { headers: { host: 'ws.e2e.test' } });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      });
      const messages: { data: string; binary: boolean }[] = [];
      ws.on('message', (data: Buffer, binary: boolean) => messages.push({ data: binary ? `${data.length} bytes` : data.toString(), binary }));
      const big = Buffer.alloc(64 * 1024, 7);
      ws.send('one');
      ws.send('two');
      ws.send(big);
      await waitFor('three messages echoed', async () => (messages.length >= 3 ? true : undefined), 15_000, 20);
      expect(messages).toEqual([{ data: 'one', binary: false }, { data: 'two', binary: false }, { data: `${big.length} bytes`, binary: true }]);
    } finally {
      ws.terminate();
    }
  });

  it('a bidirectional gRPC stream passes through the ingress (GRPCRoute)', async () => {
    // After an HTTP request has reached the Gateway's address: kube-proxy has programmed it, so no stray connection.
    await served('a.e2e.test', 301);
    const client = new EchoClient(`${gateway}:80`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc.e2e.test' });
    type Reply = { message: string; pod: string };
    const chat = (): Promise<Reply[] | string> =>
      new Promise((resolve) => {
        const call = (client as unknown as { Chat(o: grpc.CallOptions): grpc.ClientDuplexStream<{ message: string }, Reply> }).Chat({ deadline: Date.now() + 15_000 });
        const got: Reply[] = [];
        // One message at a time, each sent once the previous answer came back: a stream, not a batch.
        const messages = ['m1', 'm2', 'm3', 'm4', 'm5'];
        call.on('data', (r: Reply) => {
          got.push(r);
          if (got.length < messages.length) call.write({ message: messages[got.length]! });
          else call.end();
        });
        call.on('error', (e: grpc.ServiceError) => resolve(grpc.status[e.code] ?? String(e.code)));
        call.on('status', (s: grpc.StatusObject) => s.code === grpc.status.OK && resolve(got));
        call.write({ message: messages[0]! });
      });
    try {
      const replies = await waitFor('the gRPC stream through the ingress', async () => {
        const r = await chat();
        return typeof r === 'string' ? undefined : r;
      }, 90_000);
      expect(replies.map((r) => r.message)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
      expect(replies.every((r) => r.pod.startsWith('grpc-echo-'))).toBe(true);
    } finally {
      client.close();
    }
  });

  it('a plain networking.k8s.io/v1 Ingress object of class skein routes', async () => {
    const r = await waitFor('plain.e2e.test through the ingress Service', async () => {
      const x = await send(shared, 80, 'plain.e2e.test', '/plain');
      return x.status === 200 ? x : undefined;
    }, 90_000);
    const echo = echoOf(r);
    expect(echo?.pod.startsWith('web-')).toBe(true);
    expect(echo?.url).toBe('/plain');
  });

  it('an invalid route gets ResolvedRefs False BackendNotFound and breaks nothing else', async () => {
    type RouteStatus = { status?: { parents?: { controllerName: string; conditions: Condition[] }[] } };
    const conditions = await waitFor('the broken route\'s status', async () => {
      const o = (await custom.getNamespacedCustomObject({ ...GW, namespace: NS, plural: 'httproutes', name: 'broken' })) as RouteStatus;
      const c = o.status?.parents?.[0]?.conditions;
      return c?.some((x) => x.type === 'ResolvedRefs') ? c : undefined;
    }, 60_000);
    expect(conditions.find((c) => c.type === 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'BackendNotFound' });
    expect(conditions.find((c) => c.type === 'Accepted')).toMatchObject({ status: 'True' });
    // Its requests get the Gateway API's 500 from the ingress itself; the other routes of the listener and Gateway keep answering.
    const broken = await served('broken.e2e.test', 500);
    expect(broken.body).toBe('no backend of this route resolves\n');
    expect((await at('canary.e2e.test', '/still')).status).toBe(200);
    expect((await at('a.e2e.test', '/still', { tls: true })).status).toBe(200);
    const valid = (await custom.getNamespacedCustomObject({ ...GW, namespace: NS, plural: 'httproutes', name: 'canary' })) as RouteStatus;
    expect(valid.status?.parents?.[0]?.conditions.map((c) => [c.type, c.status])).toEqual([['Accepted', 'True'], ['ResolvedRefs', 'True']]);
  });
});
