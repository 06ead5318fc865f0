// The ingress configured by the Gateway API on a real API server: the Gateway API CRDs (v1.6.3, from the Go module), a
// GatewayClass, a Gateway with an HTTP listener and two HTTPS listeners whose certificates come from TLS Secrets, and
// HTTPRoutes; the control plane translates them, a real ingress proxy (in this process, fed over gRPC like the
// Deployment's) serves them to clients on loopback: SNI picks each hostname's certificate, HTTP redirects to HTTPS, a
// 95/5 split lands within 2 points over 4000 requests, an invalid route gets its status reason and breaks nothing else.
// The Lease holder writes GatewayClass, Gateway and route status; an Ingress object of class skein is translated too; a
// backend Service's TrafficPolicy retries apply to the ingress's route to it.
import * as k8s from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { VirtualHostConfig } from '../../api/config/proxy-config.ts';
import { SKEIN_CONTROLLER_NAME, type RouteStatus } from '../../api/crd/gateway-api.ts';
import { GATEWAY_SUPPORTED_FEATURES } from '../../api/crd/gateway-support.ts';
import { startControlPlane, type RunningControlPlane } from '../../control-plane/control-plane-runtime.ts';
import { INGRESS_SERVICE_LABEL } from '../../control-plane/translation/gateway-resolution.ts';
import { clusterName } from '../../control-plane/translation/mesh-inputs.ts';
import { applyCrds, waitCrdsEstablished } from '../../local-cluster/apply-crds.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { freePorts } from '../../local-cluster/free-port.ts';
import { gatewayApiCrdTexts } from '../../local-cluster/gateway-api-crds.ts';
import { ControlPlaneClient } from '../../proxy/control/control-plane-client.ts';
import { ingressConfigDocument, ingressHello } from '../../proxy/ingress/ingress-bootstrap.ts';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { makeTestCert, type TestCert } from '../support/test-cert.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';
import { eventually } from '../support/until.ts';

const NS = 'edge';
const GW = { group: 'gateway.networking.k8s.io', version: 'v1' };

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly cn: string;
}

describe('the ingress fed by the control plane from Gateway API objects', () => {
  let cluster: LocalClusterDetails;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let cp: RunningControlPlane;
  let proxy: RunningProxy;
  let web: Upstream;
  let canary: Upstream;
  let httpPort: number;
  let httpsPort: number;
  let hostAddress = '';
  const certs: TestCert[] = [];

  const get = (port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, headers: { ...headers, host }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cn: '' }));
      });
      req.on('error', reject);
      req.end();
    });
  const getTls = (host: string, path = '/', agent: https.Agent | false = false): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: httpsPort, path, servername: host, headers: { host }, rejectUnauthorized: false, agent }, (res) => {
        const cert = (res.socket as tls.TLSSocket).getPeerCertificate();
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cn: String(cert?.subject?.CN ?? '') }));
      });
      req.on('error', reject);
      req.end();
    });

  beforeAll(async () => {
    const ports = await freePorts(['0.0.0.0', '0.0.0.0']);
    httpPort = ports[0]!;
    httpsPort = ports[1]!;
    certs.push(makeTestCert(['a.example.com']), makeTestCert(['b.example.com']));
    cluster = await startLocalCluster({ withNodeAgent: false, log: () => {} });
    // The upstreams listen on a host address of a real interface: EndpointSlices refuse loopback addresses.
    const hostIp = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal && !a.address.startsWith('10.24'))?.address;
    if (hostIp === undefined) throw new Error('no non-loopback IPv4 address on this machine');
    hostAddress = hostIp;
    [web, canary] = await Promise.all([startHttpUpstream('h1', { id: 'web', host: hostIp }), startHttpUpstream('h1', { id: 'canary', host: hostIp })]);
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    for (const name of [NS, 'skein-system']) await core.createNamespace({ body: { metadata: { name } } });
    const trafficPolicyCrd = readFileSync(join(import.meta.dirname, '../../manifests/control-plane/crd-trafficpolicies.yaml'), 'utf8');
    const names = await applyCrds(kc, [...(await gatewayApiCrdTexts()), trafficPolicyCrd], 'skein-test');
    await waitCrdsEstablished(kc, names);

    // The backends: Services whose endpoints are the loopback upstreams.
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    for (const [name, u] of [['web', web], ['web-canary', canary]] as const) {
      const address = hostIp;
      await core.createNamespacedService({ namespace: NS, body: { metadata: { name }, spec: { ports: [{ name: 'http', port: 8080 }] } } });
      await discovery.createNamespacedEndpointSlice({
        namespace: NS,
        body: { metadata: { name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', ports: [{ name: 'http', port: u.port, protocol: 'TCP' }], endpoints: [{ addresses: [address], conditions: { ready: true } }] },
      });
    }
    // The ingress Service that gives Gateways their address.
    await core.createNamespacedService({ namespace: 'skein-system', body: { metadata: { name: 'skein-ingress', labels: { [INGRESS_SERVICE_LABEL]: 'all' } }, spec: { ports: [{ name: 'http', port: 80 }] } } });
    for (const [name, c] of [['a-cert', certs[0]!], ['b-cert', certs[1]!]] as const) {
      await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': readFileSync(c.certFile, 'utf8'), 'tls.key': readFileSync(c.keyFile, 'utf8') } } });
    }
    await custom.createClusterCustomObject({ ...GW, plural: 'gatewayclasses', body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'skein' }, spec: { controllerName: SKEIN_CONTROLLER_NAME } } });
    const httpsListener = (name: string, hostname: string, secret: string) => ({ name, port: httpsPort, protocol: 'HTTPS', hostname, tls: { mode: 'Terminate', certificateRefs: [{ name: secret }] } });
    await custom.createNamespacedCustomObject({
      ...GW,
      namespace: NS,
      plural: 'gateways',
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'gw' },
        spec: { gatewayClassName: 'skein', listeners: [{ name: 'http', port: httpPort, protocol: 'HTTP' }, httpsListener('https-a', 'a.example.com', 'a-cert'), httpsListener('https-b', 'b.example.com', 'b-cert')] },
      },
    });
    const route = (name: string, spec: Record<string, unknown>) =>
      custom.createNamespacedCustomObject({ ...GW, namespace: NS, plural: 'httproutes', body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name }, spec } });
    await route('to-https', { parentRefs: [{ name: 'gw', sectionName: 'http' }], rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', port: httpsPort, statusCode: 301 } }] }] });
    await route('split', {
      parentRefs: [{ name: 'gw', sectionName: 'https-a' }, { name: 'gw', sectionName: 'https-b' }],
      rules: [{ backendRefs: [{ name: 'web', port: 8080, weight: 95 }, { name: 'web-canary', port: 8080, weight: 5 }] }],
    });
    // Invalid: a backend that does not exist, and a parent listener that does not exist.
    await route('broken', { parentRefs: [{ name: 'gw', sectionName: 'https-b' }], hostnames: ['b.example.com'], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/broken' } }], backendRefs: [{ name: 'nope', port: 8080 }] }] });
    await route('orphan', { parentRefs: [{ name: 'gw', sectionName: 'nope' }], rules: [{ backendRefs: [{ name: 'web', port: 8080 }] }] });
    const networking = kc.makeApiClient(k8s.NetworkingV1Api);
    await networking.createNamespacedIngress({
      namespace: NS,
      body: { metadata: { name: 'plain' }, spec: { ingressClassName: 'skein', rules: [{ host: 'plain.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http' } } } }] } }] } },
    });

    cp = await startControlPlane({
      kubeConfig: kc,
      replica: 'cp-ingress',
      grpcAddress: '127.0.0.1',
      grpcPort: 0,
      debugAddress: '127.0.0.1',
      debugPort: 0,
      log: () => {},
      lease: { durationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 },
    });
    const env = { SKEIN_POD_NAME: 'ingress-1', SKEIN_POD_NAMESPACE: 'skein-system' };
    const parsed = parseProxyConfig({ ...ingressConfigDocument(env), admin: { address: '127.0.0.1', port: 0 } });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    const hello = { proxyId: '', podName: 'ingress-1', podNamespace: 'skein-system', podIp: '127.0.0.1', serviceAccount: 'skein-ingress', token: '', mode: 'ingress', proxyVersion: 'test' };
    proxy = await startProxy(parsed.value, { controlPlane: { address: `127.0.0.1:${cp.grpcPort}`, hello: ingressHello(hello, `${NS}/gw`, null) } });
    await eventually('the Gateway listeners bound by the ingress', () => proxy.listeners.has(`ingress:${httpPort}`) && proxy.listeners.has(`ingress:${httpsPort}`), 60_000);
  }, 300_000);

  afterAll(async () => {
    await proxy?.close();
    await cp?.stop();
    await cluster?.stop();
    await web?.close();
    await canary?.close();
    for (const c of certs) c.remove();
  });

  it('HTTPS for two hostnames, each with its certificate from its Secret (SNI); HTTP redirects to HTTPS', async () => {
    const a = await eventually('a.example.com served', async () => {
      const r = await getTls('a.example.com');
      return r.status === 200 && r;
    });
    expect(a.cn).toBe('a.example.com');
    const b = await getTls('b.example.com');
    expect([b.status, b.cn]).toEqual([200, 'b.example.com']);
    const redirect = await get(httpPort, 'a.example.com', '/x?y=1');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`https://a.example.com:${httpsPort}/x?y=1`);
    // No route for this host on the HTTPS port.
    expect((await getTls('c.example.com')).status).toBe(404);
  });

  it('a 95/5 split lands within 2 points over 4000 requests', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
    const before = { web: web.seen.length, canary: canary.seen.length };
    try {
      for (let sent = 0; sent < 4000; sent += 100) {
        const answers = await Promise.all(Array.from({ length: 100 }, () => getTls('a.example.com', '/split', agent)));
        expect(answers.every((r) => r.status === 200)).toBe(true);
      }
    } finally {
      agent.destroy();
    }
    const w = web.seen.length - before.web;
    const c = canary.seen.length - before.canary;
    expect(w + c).toBe(4000);
    expect(Math.abs((100 * c) / 4000 - 5)).toBeLessThanOrEqual(2);
  }, 120_000);

  it('an invalid route gets its status reason and breaks nothing else; GatewayClass and Gateway status are written', async () => {
    const parentsOf = async (name: string) => ((await custom.getNamespacedCustomObject({ ...GW, namespace: NS, plural: 'httproutes', name })) as { status?: RouteStatus }).status?.parents ?? [];
    const broken = await eventually('the broken route status', async () => {
      const p = await parentsOf('broken');
      return p.length === 1 && p[0]!.conditions.length === 2 && p;
    });
    expect(broken[0]!.controllerName).toBe(SKEIN_CONTROLLER_NAME);
    expect(broken[0]!.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Accepted', 'True', 'Accepted'],
      ['ResolvedRefs', 'False', 'BackendNotFound'],
    ]);
    const orphan = await eventually('the orphan route status', async () => {
      const p = await parentsOf('orphan');
      return p.length === 1 && p;
    });
    expect(orphan[0]!.conditions.find((c) => c.type === 'Accepted')).toMatchObject({ status: 'False', reason: 'NoMatchingParent' });
    // The broken rule answers 500; the rest of that hostname still routes.
    expect((await getTls('b.example.com', '/broken')).status).toBe(500);
    expect((await getTls('b.example.com', '/fine')).status).toBe(200);

    const cls = await eventually('GatewayClass status', async () => {
      const o = (await custom.getClusterCustomObject({ ...GW, plural: 'gatewayclasses', name: 'skein' })) as { status?: { conditions?: { type: string; status: string }[]; supportedFeatures?: { name: string }[] } };
      return o.status?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True') && o.status;
    });
    expect(cls.supportedFeatures?.map((f) => f.name)).toEqual([...GATEWAY_SUPPORTED_FEATURES]);
    const svcIp = (await core.readNamespacedService({ name: 'skein-ingress', namespace: 'skein-system' })).spec?.clusterIP;
    const gw = await eventually('Gateway status', async () => {
      const o = (await custom.getNamespacedCustomObject({ ...GW, namespace: NS, plural: 'gateways', name: 'gw' })) as {
        status?: { addresses?: { value: string }[]; conditions?: { type: string; status: string }[]; listeners?: { name: string; attachedRoutes: number }[] };
      };
      return o.status?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True') && o.status;
    });
    expect(gw.addresses).toEqual([{ type: 'IPAddress', value: svcIp }]);
    expect(gw.listeners?.map((l) => [l.name, l.attachedRoutes])).toEqual([
      ['http', 1],
      ['https-a', 1],
      ['https-b', 2],
    ]);
  }, 120_000);

  it('an Ingress object of class skein is served by an ingress for every Gateway', async () => {
    const held = new Map<string, unknown>();
    const client = new ControlPlaneClient({
      address: `127.0.0.1:${cp.grpcPort}`,
      hello: ingressHello({ proxyId: '', podName: 'ingress-all', podNamespace: 'skein-system', podIp: '127.0.0.1', serviceAccount: 'skein-ingress', token: '', mode: 'ingress', proxyVersion: 'test' }, '', null),
      apply: (c) => {
        for (const r of c.removals) held.delete(`${r.type}/${r.name}`);
        for (const r of c.upserts) held.set(`${r.type}/${r.name}`, r.body);
        return { ok: true };
      },
    });
    client.start();
    try {
      const vh = await eventually('the Ingress rule on port 80', () => (held.get('route-table/ingress:80') as { virtualHosts: VirtualHostConfig[] } | undefined)?.virtualHosts.find((v) => v.domains.includes('plain.example.com')));
      expect(vh.routes.map((r) => r.backends)).toEqual([[{ cluster: clusterName(NS, 'web', 8080), weight: 1 }]]);
      // The Gateway's listeners are there too (an ingress for all serves every Gateway of class skein).
      expect(held.has(`listener/ingress:${httpsPort}`)).toBe(true);
    } finally {
      client.stop();
    }
  });
  it("a backend Service's TrafficPolicy retries apply at the ingress: a first 503 is retried", async () => {
    // Answers 503 to the first request of each x-try id and 200 to the next: one retry turns a try into a 200.
    const seen = new Map<string, number>();
    const flaky = http.createServer((req, res) => {
      const id = String(req.headers['x-try'] ?? '');
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      res.writeHead(n === 1 ? 503 : 200).end(`try ${n}\n`);
    });
    await new Promise<void>((resolve) => flaky.listen(0, hostAddress, resolve));
    try {
      const port = (flaky.address() as AddressInfo).port;
      await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'flaky' }, spec: { ports: [{ name: 'http', port: 8080 }] } } });
      await kc.makeApiClient(k8s.DiscoveryV1Api).createNamespacedEndpointSlice({
        namespace: NS,
        body: { metadata: { name: 'flaky-1', labels: { 'kubernetes.io/service-name': 'flaky' } }, addressType: 'IPv4', ports: [{ name: 'http', port, protocol: 'TCP' }], endpoints: [{ addresses: [hostAddress], conditions: { ready: true } }] },
      });
      await custom.createNamespacedCustomObject({
        ...GW,
        namespace: NS,
        plural: 'httproutes',
        body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'flaky' }, spec: { parentRefs: [{ name: 'gw', sectionName: 'http' }], hostnames: ['flaky.example.com'], rules: [{ backendRefs: [{ name: 'flaky', port: 8080 }] }] } },
      });
      let tries = 0;
      const fresh = (): Promise<Answer> => get(httpPort, 'flaky.example.com', '/', { 'x-try': `t${++tries}` });
      // Without a policy the first 503 reaches the client (until the route is served, the HTTP listener redirects: 301).
      const before = await eventually('the flaky route served', async () => {
        const r = await fresh();
        return r.status !== 301 && r;
      });
      expect([before.status, before.body]).toEqual([503, 'try 1\n']);
      await custom.createNamespacedCustomObject({
        group: 'skein.dev',
        version: 'v1alpha1',
        namespace: NS,
        plural: 'trafficpolicies',
        body: { apiVersion: 'skein.dev/v1alpha1', kind: 'TrafficPolicy', metadata: { name: 'flaky' }, spec: { targetRef: { kind: 'Service', name: 'flaky' }, retries: { attempts: 3, retryOn: ['5xx'] } } },
      });
      const after = await eventually('the retry in force at the ingress', async () => {
        const r = await fresh();
        return r.status === 200 && r;
      });
      expect(after.body).toBe('try 2\n');
      expect(seen.get(`t${tries}`)).toBe(2);
    } finally {
      await new Promise((resolve) => flaky.close(resolve));
    }
  }, 120_000);
});
