// Ingress translation: Gateway API objects (and Ingress objects) in, the ingress proxy's listeners, route tables,
// certificates and clusters out; with the outcomes status reports: listener validity and conflicts, certificates across
// namespaces only through a ReferenceGrant, attachment (sectionName, port, allowed namespaces, hostnames intersection),
// invalid references, weights, and edge policies by annotation.
import type { V1EndpointSlice, V1Ingress, V1Namespace, V1Secret, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { RouteConfig, VirtualHostConfig } from '../../api/config/proxy-config.ts';
import type { ListenerResource, SecretResource } from '../../api/config/config-resources.ts';
import { parseConfigResource } from '../../api/config/parse-config-resource.ts';
import { SKEIN_CONTROLLER_NAME, type Gateway, type GatewayListener, type HTTPRoute, type ReferenceGrant } from '../../api/crd/gateway-api.ts';
import { GATEWAY_SUPPORTED_FEATURES } from '../../api/crd/gateway-support.ts';
import { gatewayClassStatusUpdates, gatewayStatusUpdates, routeStatusUpdates, type StatusUpdate } from '../status/desired-status.ts';
import { EDGE_POLICY_ANNOTATION } from './edge-policy-annotation.ts';
import { INGRESS_SERVICE_LABEL, intersectHostnames, resolveGateways, type GatewayOutcome } from './gateway-resolution.ts';
import type { MeshInputs } from './mesh-inputs.ts';
import { clusterName } from './mesh-inputs.ts';
import { certificateSecretName, gatewayInputsOf, translateIngress } from './translate-ingress.ts';
import type { TrafficPolicy, TrafficPolicySpec } from '../../api/crd/traffic-policy.ts';
import { clustersWithEndpoints, outboundVirtualHosts, translateProxy } from './translate-proxy.ts';

const PEM = (what: string): string => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

const svc = (ns: string, name: string, port: number): V1Service => ({ metadata: { namespace: ns, name }, spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port }] } });
const slice = (ns: string, name: string, ip: string, port: number): V1EndpointSlice => ({
  metadata: { namespace: ns, name: `${name}-x`, labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port }],
  endpoints: [{ addresses: [ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `${name}-pod`, namespace: ns } }],
});
const tlsSecret = (ns: string, name: string): V1Secret => ({ metadata: { namespace: ns, name }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(PEM(`CERTIFICATE ${name}`)), 'tls.key': b64(PEM('PRIVATE KEY')) } });
const gatewayClass = { metadata: { name: 'skein', generation: 1 }, spec: { controllerName: SKEIN_CONTROLLER_NAME } };
const ns = (name: string, labels: Record<string, string> = {}): V1Namespace => ({ metadata: { name, labels } });

function gateway(listeners: GatewayListener[], opts: { name?: string; ns?: string; annotations?: Record<string, string>; className?: string } = {}): Gateway {
  return { metadata: { namespace: opts.ns ?? 'edge', name: opts.name ?? 'gw', generation: 2, ...(opts.annotations ? { annotations: opts.annotations } : {}) }, spec: { gatewayClassName: opts.className ?? 'skein', listeners } };
}
function route(name: string, rules: NonNullable<HTTPRoute['spec']['rules']>, opts: { ns?: string; parents?: HTTPRoute['spec']['parentRefs']; hostnames?: string[]; annotations?: Record<string, string> } = {}): HTTPRoute {
  return {
    metadata: { namespace: opts.ns ?? 'edge', name, generation: 5, creationTimestamp: '2026-12-01T00:00:00Z', ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec: { parentRefs: opts.parents ?? [{ name: 'gw', namespace: 'edge' }], ...(opts.hostnames ? { hostnames: opts.hostnames } : {}), rules },
  };
}
const http80: GatewayListener = { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } };
const https = (name: string, hostname: string, secret: string, secretNs?: string): GatewayListener => ({
  name,
  port: 443,
  protocol: 'HTTPS',
  hostname,
  tls: { certificateRefs: [{ name: secret, ...(secretNs ? { namespace: secretNs } : {}) }] },
  allowedRoutes: { namespaces: { from: 'All' } },
});

const baseServices = [svc('edge', 'web', 8080), svc('edge', 'web-canary', 8080), svc('apps', 'api', 9090)];
function inputs(o: Partial<MeshInputs> = {}): MeshInputs {
  return {
    services: baseServices,
    endpointSlices: [slice('edge', 'web', '10.244.0.7', 8080), slice('edge', 'web-canary', '10.244.0.8', 8080), slice('apps', 'api', '10.244.0.9', 9090)],
    namespaces: [ns('edge'), ns('apps', { team: 'apps' })],
    trafficPolicies: [],
    gatewayClasses: [gatewayClass],
    tlsSecrets: [tlsSecret('edge', 'a-cert'), tlsSecret('edge', 'b-cert'), tlsSecret('certs', 'shared')],
    ...o,
  };
}

const byType = (t: ReturnType<typeof translateIngress>, type: string) => t.resources.filter((r) => r.type === type);
function table(t: ReturnType<typeof translateIngress>, name: string): VirtualHostConfig[] {
  return (t.resources.find((r) => r.type === 'route-table' && r.name === name)!.body as { virtualHosts: VirtualHostConfig[] }).virtualHosts;
}
const all = { gateway: null };
const web = clusterName('edge', 'web', 8080);
const canary = clusterName('edge', 'web-canary', 8080);
const gwOf = (o: Partial<MeshInputs>, name = 'gw'): GatewayOutcome => resolveGateways(gatewayInputsOf(inputs(o))).gateways.find((g) => g.name === name)!;

describe('Gateway translation for the ingress proxy', () => {
  it('HTTP and HTTPS listeners: two hostnames with their own certificates (secrets by SNI), routes by hostname, weighted backends', () => {
    const gw = gateway([http80, https('a', 'a.example.com', 'a-cert'), https('b', 'b.example.com', 'b-cert')]);
    const split = route('split', [{ backendRefs: [{ name: 'web', port: 8080, weight: 95 }, { name: 'web-canary', port: 8080, weight: 5 }] }], { hostnames: ['a.example.com', 'b.example.com'] });
    const t = translateIngress(inputs({ gateways: [gw], httpRoutes: [split, route('any', [{ backendRefs: [{ name: 'web', port: 8080 }] }], { hostnames: ['*.example.com'] })] }), all);
    expect(t.problems).toEqual([]);
    // Every resource is one the proxy takes, as its own validation says (names, bodies; the bodies as JSON on the wire).
    for (const r of t.resources) expect(parseConfigResource(r.type, r.name, JSON.parse(JSON.stringify(r.body)), { mode: 'ingress' })).toMatchObject({ ok: true });
    const listeners = byType(t, 'listener').map((r) => r.body as ListenerResource);
    expect(listeners.map((l) => [l.name, l.port, l.direction, l.routeTable])).toEqual([
      ['ingress:80', 80, 'ingress', 'ingress:80'],
      ['ingress:443', 443, 'ingress', 'ingress:443'],
    ]);
    expect(listeners[0]!.tls).toBeNull();
    // The port's listener hostnames ride along: a Host differing from the SNI is a 421 only across listeners.
    expect(listeners[1]!.tls).toEqual({
      secret: certificateSecretName('edge', 'a-cert'),
      alpn: ['h2', 'http/1.1'],
      certificates: [{ secret: certificateSecretName('edge', 'b-cert') }],
      listenerHostnames: ['a.example.com', 'b.example.com'],
    });
    const secrets = byType(t, 'secret');
    expect(secrets.map((s) => s.name)).toEqual(['tls:edge/a-cert', 'tls:edge/b-cert']);
    expect((secrets[0]!.body as SecretResource).certificateChain).toContain('CERTIFICATE a-cert');
    // The route serves its two hostnames on both ports (the HTTP listener takes any host).
    // The wildcard route narrows to each HTTPS listener's hostname; on the HTTP listener (any host) it keeps its wildcard.
    expect(table(t, 'ingress:443').map((v) => v.domains)).toEqual([['a.example.com'], ['b.example.com']]);
    expect(table(t, 'ingress:443')[0]!.routes.map((r) => r.name)).toEqual(['httproute/edge/any/rule0/match0', 'httproute/edge/split/rule0/match0']);
    expect(table(t, 'ingress:80').map((v) => v.domains)).toEqual([['*.example.com'], ['a.example.com'], ['b.example.com']]);
    expect(table(t, 'ingress:443')[0]!.routes[1]!.backends).toEqual([{ cluster: web, weight: 95 }, { cluster: canary, weight: 5 }]);
    const clusters = clustersWithEndpoints(t.resources);
    expect(clusters.map((c) => [c.name, c.endpoints.map((e) => `${e.address}:${e.port}`)])).toEqual([
      [web, ['10.244.0.7:8080']],
      [canary, ['10.244.0.8:8080']],
    ]);
    const g = gwOf({ gateways: [gw], httpRoutes: [split] });
    expect(g.listeners.map((l) => [l.name, l.routes.length, l.programmed.status])).toEqual([
      ['http', 1, 'True'],
      ['a', 1, 'True'],
      ['b', 1, 'True'],
    ]);
    const g2 = gwOf({ gateways: [gw], httpRoutes: [split, route('any', [{ backendRefs: [{ name: 'web', port: 8080 }] }], { hostnames: ['*.example.com'] })] });
    expect(g2.listeners.map((l) => l.routes.length)).toEqual([2, 2, 2]);
  });

  it("a rule's retry becomes the route's retry policy at the ingress, and the proxy takes it", () => {
    const retried = route('retried', [{ backendRefs: [{ name: 'web', port: 8080 }], retry: { codes: [500, 502], attempts: 2, backoff: '50ms' } }]);
    const t = translateIngress(inputs({ gateways: [gateway([http80])], httpRoutes: [retried] }), all);
    expect(t.problems).toEqual([]);
    for (const r of t.resources) expect(parseConfigResource(r.type, r.name, JSON.parse(JSON.stringify(r.body)), { mode: 'ingress' })).toMatchObject({ ok: true });
    expect(table(t, 'ingress:80')[0]!.routes[0]!.retries).toMatchObject({ attempts: 2, retriableStatusCodes: [500, 502], backoff: { minIntervalMs: 50 } });
  });

  it('a plain HTTP listener redirects to HTTPS with a RequestRedirect filter', () => {
    const redirect = route('to-https', [{ filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] }], { parents: [{ name: 'gw', namespace: 'edge', sectionName: 'http' }] });
    const t = translateIngress(inputs({ gateways: [gateway([http80, https('a', 'a.example.com', 'a-cert')])], httpRoutes: [redirect] }), all);
    const r = table(t, 'ingress:80')[0]!.routes[0]!;
    expect(r.redirect).toEqual({ scheme: 'https', hostname: null, port: null, path: null, statusCode: 301 });
    // The HTTPS listener has no route: its hostname's virtual host is empty (its requests get 404, not another listener's routes).
    expect(table(t, 'ingress:443').map((v) => [v.domains, v.routes.length])).toEqual([[['a.example.com'], 0]]);
  });

  it('hostnames intersection: listener and route narrow each other; none in common does not attach', () => {
    expect(intersectHostnames(null, [])).toEqual(['*']);
    expect(intersectHostnames('*.example.com', [])).toEqual(['*.example.com']);
    expect(intersectHostnames('*.example.com', ['a.example.com', 'x.other.org', '*.b.example.com'])).toEqual(['a.example.com', '*.b.example.com']);
    expect(intersectHostnames('a.example.com', ['*.example.com'])).toEqual(['a.example.com']);
    expect(intersectHostnames('example.com', ['*.example.com'])).toEqual([]);
    const gw = gateway([{ ...http80, hostname: '*.example.com' }]);
    const far = route('far', [{ backendRefs: [{ name: 'web', port: 8080 }] }], { hostnames: ['other.org'] });
    const near = route('near', [{ backendRefs: [{ name: 'web', port: 8080 }] }], { hostnames: ['shop.example.com', 'other.org'] });
    const res = resolveGateways(gatewayInputsOf(inputs({ gateways: [gw], httpRoutes: [far, near] })));
    expect(res.routes.find((r) => r.name === 'far')!.parents[0]!.accepted).toMatchObject({ status: 'False', reason: 'NoMatchingListenerHostname' });
    expect(res.routes.find((r) => r.name === 'near')!.parents[0]!.accepted.status).toBe('True');
    const t = translateIngress(inputs({ gateways: [gw], httpRoutes: [far, near] }), all);
    // The listener's own hostname has its (here empty) virtual host: other hosts below it get 404 from this listener.
    expect(table(t, 'ingress:80').map((v) => [v.domains, v.routes.length])).toEqual([
      [['*.example.com'], 0],
      [['shop.example.com'], 1],
    ]);
  });

  it('certificates in another namespace only through a ReferenceGrant', () => {
    const gw = gateway([https('s', 's.example.com', 'shared', 'certs')]);
    const denied = gwOf({ gateways: [gw] });
    expect(denied.listeners[0]!.resolvedRefs).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
    expect(denied.listeners[0]!.programmed.status).toBe('False');
    expect(byType(translateIngress(inputs({ gateways: [gw] }), all), 'listener')).toEqual([]);
    const grant: ReferenceGrant = { metadata: { namespace: 'certs', name: 'edge-gateways' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'edge' }], to: [{ group: '', kind: 'Secret' }] } };
    const allowed = gwOf({ gateways: [gw], referenceGrants: [grant] });
    expect(allowed.listeners[0]!.resolvedRefs.status).toBe('True');
    // A grant for another kind, or from another namespace, does not do.
    const wrong: ReferenceGrant = { metadata: { namespace: 'certs', name: 'x' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'apps' }], to: [{ group: '', kind: 'Secret' }] } };
    expect(gwOf({ gateways: [gw], referenceGrants: [wrong] }).listeners[0]!.resolvedRefs.reason).toBe('RefNotPermitted');
    // A missing Secret, or one that is not kubernetes.io/tls.
    expect(gwOf({ gateways: [gateway([https('m', 'm.example.com', 'missing')])] }).listeners[0]!.resolvedRefs.reason).toBe('InvalidCertificateRef');
    const opaque: V1Secret = { ...tlsSecret('edge', 'opaque'), type: 'Opaque' };
    expect(gwOf({ gateways: [gateway([https('o', 'o.example.com', 'opaque')])], tlsSecrets: [opaque] }).listeners[0]!.resolvedRefs.reason).toBe('InvalidCertificateRef');
  });

  it('backends in another namespace only through a ReferenceGrant; an invalid route gets its reason and breaks nothing else', () => {
    const gw = gateway([http80]);
    const cross = route('cross', [{ backendRefs: [{ name: 'api', namespace: 'apps', port: 9090 }] }], { hostnames: ['api.example.com'] });
    const missing = route('missing', [{ backendRefs: [{ name: 'nope', port: 80 }] }], { hostnames: ['bad.example.com'] });
    const kind = route('kind', [{ backendRefs: [{ group: 'example.com', kind: 'Bucket', name: 'b' }] }], { hostnames: ['kind.example.com'] });
    const good = route('good', [{ backendRefs: [{ name: 'web', port: 8080 }] }], { hostnames: ['web.example.com'] });
    const ins = inputs({ gateways: [gw], httpRoutes: [cross, missing, kind, good] });
    const res = resolveGateways(gatewayInputsOf(ins));
    const reason = (n: string) => res.routes.find((r) => r.name === n)!.parents[0]!.resolvedRefs.reason;
    expect([reason('cross'), reason('missing'), reason('kind'), reason('good')]).toEqual(['RefNotPermitted', 'BackendNotFound', 'InvalidKind', 'ResolvedRefs']);
    const t = translateIngress(ins, all);
    const hosts = Object.fromEntries(table(t, 'ingress:80').map((v) => [v.domains[0], v.routes[0]!]));
    expect(hosts['bad.example.com']!.directResponse?.status).toBe(500);
    expect(hosts['api.example.com']!.directResponse?.status).toBe(500);
    expect(hosts['web.example.com']!.backends).toEqual([{ cluster: web, weight: 1 }]);
    const grant: ReferenceGrant = { metadata: { namespace: 'apps', name: 'from-edge' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'edge' }], to: [{ group: '', kind: 'Service', name: 'api' }] } };
    const t2 = translateIngress({ ...ins, referenceGrants: [grant] }, all);
    const api = table(t2, 'ingress:80').find((v) => v.domains[0] === 'api.example.com')!.routes[0]!;
    expect(api.backends).toEqual([{ cluster: clusterName('apps', 'api', 9090), weight: 1 }]);
    expect(byType(t2, 'cluster').map((c) => c.name)).toContain(clusterName('apps', 'api', 9090));
  });

  it('attachment: sectionName and port must name a listener; allowed namespaces and kinds', () => {
    const gw = gateway([
      { name: 'same', port: 80, protocol: 'HTTP' },
      { name: 'selected', port: 8080, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'apps' } } } } },
    ]);
    const rules = [{ backendRefs: [{ name: 'api', port: 9090 }] }];
    const none = route('none', rules, { ns: 'apps', parents: [{ name: 'gw', namespace: 'edge', sectionName: 'nope' }] });
    const port = route('port', rules, { ns: 'apps', parents: [{ name: 'gw', namespace: 'edge', port: 9999 }] });
    const same = route('same', rules, { ns: 'apps', parents: [{ name: 'gw', namespace: 'edge', sectionName: 'same' }] });
    const selected = route('selected', rules, { ns: 'apps', parents: [{ name: 'gw', namespace: 'edge' }] });
    const res = resolveGateways(gatewayInputsOf(inputs({ gateways: [gw], httpRoutes: [none, port, same, selected] })));
    const accepted = (n: string) => res.routes.find((r) => r.name === n)!.parents[0]!.accepted;
    expect(accepted('none').reason).toBe('NoMatchingParent');
    expect(accepted('port').reason).toBe('NoMatchingParent');
    expect(accepted('same').reason).toBe('NotAllowedByListeners');
    expect(accepted('selected').status).toBe('True');
    expect(res.gateways[0]!.listeners.map((l) => l.routes.length)).toEqual([0, 1]);
    // A listener that asks for a kind Skein does not serve.
    const tcpKinds = gwOf({ gateways: [gateway([{ name: 'k', port: 80, protocol: 'HTTP', allowedRoutes: { kinds: [{ kind: 'TCPRoute' }] } }])] });
    expect(tcpKinds.listeners[0]!.resolvedRefs.reason).toBe('InvalidRouteKinds');
    // Routes of a Gateway of another class are not Skein's.
    const theirs = resolveGateways(gatewayInputsOf(inputs({ gateways: [gateway([http80], { className: 'other' })], httpRoutes: [selected] })));
    expect(theirs.gateways).toEqual([]);
    expect(theirs.routes).toEqual([]);
  });

  it('listener conflicts and unsupported protocols are reported; the valid listeners still serve', () => {
    const gw = gateway([
      { name: 'h1', port: 80, protocol: 'HTTP', hostname: 'a.example.com' },
      { name: 'h2', port: 80, protocol: 'HTTP', hostname: 'a.example.com' },
      { name: 'p1', port: 8443, protocol: 'HTTP' },
      https('p2', 'x.example.com', 'a-cert'),
      { ...https('p3', 'y.example.com', 'a-cert'), port: 8443 },
      { name: 'tcp', port: 9000, protocol: 'TCP' },
      { name: 'ok', port: 8080, protocol: 'HTTP' },
    ]);
    const g = gwOf({ gateways: [gw] });
    const l = Object.fromEntries(g.listeners.map((x) => [x.name, x]));
    expect([l.h1!.conflicted.reason, l.h2!.conflicted.reason]).toEqual(['HostnameConflict', 'HostnameConflict']);
    expect([l.p1!.conflicted.reason, l.p3!.conflicted.reason]).toEqual(['ProtocolConflict', 'ProtocolConflict']);
    expect(l.tcp!.accepted).toMatchObject({ status: 'False', reason: 'UnsupportedProtocol' });
    expect(l.ok!.programmed.status).toBe('True');
    expect(l.p2!.programmed.status).toBe('True');
    expect(g.accepted.status).toBe('True');
    const t = translateIngress(inputs({ gateways: [gw] }), all);
    expect(byType(t, 'listener').map((r) => r.name)).toEqual(['ingress:443', 'ingress:8080']);
  });

  it('a proxy for one Gateway serves that Gateway only', () => {
    const a = gateway([http80], { name: 'a' });
    const b = gateway([{ ...http80, port: 8080 }], { name: 'b' });
    expect(byType(translateIngress(inputs({ gateways: [a, b] }), { gateway: 'edge/b' }), 'listener').map((r) => r.name)).toEqual(['ingress:8080']);
    expect(byType(translateIngress(inputs({ gateways: [a, b] }), all), 'listener').map((r) => r.name)).toEqual(['ingress:80', 'ingress:8080']);
  });

  it('edge policies by annotation: a route inherits its Gateway\'s and replaces each kind it sets; an invalid one fails closed', () => {
    const gw = gateway([http80], { annotations: { [EDGE_POLICY_ANNOTATION]: JSON.stringify({ ipFilter: { deny: ['203.0.113.0/24'] }, rateLimit: { requestsPerSecond: 100 }, xffTrustedHops: 1 }) } });
    const jwt = { issuer: 'https://issuer.example', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] } };
    const secured = route('secured', [{ backendRefs: [{ name: 'web', port: 8080 }] }], { hostnames: ['s.example.com'], annotations: { [EDGE_POLICY_ANNOTATION]: JSON.stringify({ jwt, rateLimit: { requestsPerSecond: 5, burst: 5 } }) } });
    const broken = route('broken', [{ backendRefs: [{ name: 'web', port: 8080 }] }], { hostnames: ['b.example.com'], annotations: { [EDGE_POLICY_ANNOTATION]: '{"ipFilter": {"allow": ["not-a-cidr"]}}' } });
    const cors = route('cors', [{ filters: [{ type: 'CORS', cors: { allowOrigins: ['https://app.example.com'], allowMethods: ['get'] } }], backendRefs: [{ name: 'web', port: 8080 }] }], { hostnames: ['c.example.com'] });
    const t = translateIngress(inputs({ gateways: [gw], httpRoutes: [secured, broken, cors] }), all);
    const listener = byType(t, 'listener')[0]!.body as ListenerResource;
    expect(listener.rateLimit).toEqual({ requestsPerSecond: 100, burst: 100 });
    expect(listener.xffTrustedHops).toBe(1);
    const hosts = Object.fromEntries(table(t, 'ingress:80').map((v) => [v.domains[0], v.routes[0]!])) as Record<string, RouteConfig>;
    expect(hosts['s.example.com']!.edge).toMatchObject({ ipFilter: { deny: ['203.0.113.0/24'] }, jwt: { issuer: 'https://issuer.example' } });
    expect(hosts['s.example.com']!.rateLimit).toEqual({ requestsPerSecond: 5, burst: 5 });
    expect(hosts['b.example.com']!.directResponse?.status).toBe(500);
    expect(t.problems.map((p) => p.object)).toEqual(['HTTPRoute edge/broken']);
    expect(hosts['c.example.com']!.edge).toMatchObject({ ipFilter: { deny: ['203.0.113.0/24'] }, cors: { allowOrigins: ['https://app.example.com'], allowMethods: ['GET'] } });
  });

  it('networking.k8s.io/v1 Ingress objects of class skein route: hosts, Exact and Prefix paths, port names, TLS Secrets', () => {
    const ing: V1Ingress = {
      metadata: { namespace: 'edge', name: 'site', generation: 1 },
      spec: {
        ingressClassName: 'skein',
        tls: [{ hosts: ['a.example.com'], secretName: 'a-cert' }],
        rules: [
          {
            host: 'a.example.com',
            http: {
              paths: [
                { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http' } } } },
                { path: '/canary', pathType: 'Exact', backend: { service: { name: 'web-canary', port: { number: 8080 } } } },
              ],
            },
          },
        ],
      },
    };
    const other: V1Ingress = { ...ing, metadata: { namespace: 'edge', name: 'not-ours' }, spec: { ...ing.spec, ingressClassName: 'nginx' } };
    const t = translateIngress(inputs({ ingresses: [ing, other] }), all);
    expect(t.problems).toEqual([]);
    expect(byType(t, 'listener').map((r) => r.name)).toEqual(['ingress:80', 'ingress:443']);
    const routes = table(t, 'ingress:443')[0]!.routes;
    expect(table(t, 'ingress:443')[0]!.domains).toEqual(['a.example.com']);
    expect(routes.map((r) => [r.match.path, r.backends[0]?.cluster])).toEqual([
      [{ type: 'exact', value: '/canary' }, canary],
      [{ type: 'prefix', value: '/' }, web],
    ]);
    // An Ingress is not served by a proxy for one Gateway.
    expect(byType(translateIngress(inputs({ ingresses: [ing] }), { gateway: 'edge/gw' }), 'listener')).toEqual([]);
  });

  it('listener isolation: a request goes to the most specific listener that matches its host, and only to its routes', () => {
    const l = (name: string, hostname?: string): GatewayListener => ({ name, port: 80, protocol: 'HTTP', ...(hostname ? { hostname } : {}), allowedRoutes: { namespaces: { from: 'All' } } });
    const gw = gateway([l('empty'), l('wild', '*.example.com'), l('wild-foo', '*.foo.example.com'), l('abc', 'abc.foo.example.com')]);
    const at = (name: string, section: string, hostnames?: string[]) =>
      route(name, [{ matches: [{ path: { type: 'PathPrefix', value: `/${section}` } }], backendRefs: [{ name: 'web', port: 8080 }] }], { parents: [{ name: 'gw', namespace: 'edge', sectionName: section }], ...(hostnames ? { hostnames } : {}) });
    // Routes on the listener without hostname name hosts that more specific listeners own: those are not served through it.
    const t = translateIngress(inputs({ gateways: [gw], httpRoutes: [at('e', 'empty', ['bar.example.com', 'bar.foo.example.com', 'other.org', '*.example.com']), at('w', 'wild'), at('wf', 'wild-foo'), at('a', 'abc')] }), all);
    expect(t.problems).toEqual([]);
    const vhosts = table(t, 'ingress:80').map((v) => [v.domains[0], v.routes.map((r) => r.name.split('/')[2])]);
    expect(vhosts).toEqual([
      ['*.example.com', ['w']],
      ['*.foo.example.com', ['wf']],
      ['abc.foo.example.com', ['a']],
      ['other.org', ['e']],
    ]);
  });

  it('a Gateway is Accepted while one listener is, with reason ListenersNotValid when another is not; not Accepted when none is', () => {
    const bad: GatewayListener = { name: 'invalid', port: 1111, protocol: 'INVALID' };
    expect(gwOf({ gateways: [gateway([http80])] }).accepted).toMatchObject({ status: 'True', reason: 'Accepted' });
    expect(gwOf({ gateways: [gateway([http80, bad])] }).accepted).toMatchObject({ status: 'True', reason: 'ListenersNotValid' });
    expect(gwOf({ gateways: [gateway([bad])] }).accepted).toMatchObject({ status: 'False', reason: 'ListenersNotValid' });
    expect(gwOf({ gateways: [gateway([http80, bad])] }).listeners.map((l) => [l.name, l.accepted.status, l.accepted.reason, l.supportedKinds.length])).toEqual([
      ['http', 'True', 'Accepted', 2],
      ['invalid', 'False', 'UnsupportedProtocol', 0],
    ]);
  });

  it('translation is pure: the same inputs give the same resources, and the inputs are untouched', () => {
    const ins = inputs({ gateways: [gateway([http80, https('a', 'a.example.com', 'a-cert')])], httpRoutes: [route('r', [{ backendRefs: [{ name: 'web', port: 8080 }] }])] });
    const before = JSON.stringify(ins);
    expect(JSON.stringify(translateIngress(ins, all))).toBe(JSON.stringify(translateIngress(ins, all)));
    expect(JSON.stringify(ins)).toBe(before);
  });
});

const tp = (service: string, spec: Omit<TrafficPolicySpec, 'targetRef'>, name = service): TrafficPolicy => ({
  apiVersion: 'skein.dev/v1alpha1',
  kind: 'TrafficPolicy',
  metadata: { namespace: 'edge', name, generation: 1, creationTimestamp: '2026-12-01T00:00:00Z' },
  spec: { targetRef: { kind: 'Service', name: service }, ...spec },
});
const routeLevel: Omit<TrafficPolicySpec, 'targetRef'> = {
  retries: { attempts: 3, perTryTimeout: '500ms', retryOn: ['5xx'] },
  timeouts: { request: '2s', streamIdle: '1m' },
  rateLimit: { requestsPerSecond: 50 },
  fault: { headerPresent: 'X-Chaos', abort: { httpStatus: 503, percent: 10 } },
  tracing: { samplingPercent: 25 },
};
/** The first route of the ingress's port-80 table, for one HTTPRoute rule, under the given TrafficPolicies. */
function ingressRoute(rule: NonNullable<HTTPRoute['spec']['rules']>[number], trafficPolicies: TrafficPolicy[]): { route: RouteConfig; t: ReturnType<typeof translateIngress> } {
  const t = translateIngress(inputs({ gateways: [gateway([http80])], httpRoutes: [route('r', [rule])], trafficPolicies }), all);
  return { route: table(t, 'ingress:80')[0]!.routes[0]!, t };
}
const policyFields = (r: RouteConfig) => ({ timeoutMs: r.timeoutMs, retries: r.retries, streamIdleTimeoutMs: r.streamIdleTimeoutMs, rateLimit: r.rateLimit, fault: r.fault, tracing: r.tracing });

describe("the ingress applies a backend Service's TrafficPolicy route sections, as a sidecar does", () => {
  it('retries, timeouts, rate limit and fault: the same fields a sidecar calling the Service gets, and the proxy takes them', () => {
    const policies = [tp('web', { ...routeLevel, circuitBreaker: { maxConnections: 10 } })];
    const { route: r, t } = ingressRoute({ backendRefs: [{ name: 'web', port: 8080 }] }, policies);
    expect(t.problems).toEqual([]);
    for (const res of t.resources) expect(parseConfigResource(res.type, res.name, JSON.parse(JSON.stringify(res.body)), { mode: 'ingress' })).toMatchObject({ ok: true });
    expect(r.retries).toMatchObject({ attempts: 2, perTryTimeoutMs: 500, retryOn: ['5xx'] });
    expect(policyFields(r)).toMatchObject({ timeoutMs: 2000, streamIdleTimeoutMs: 60_000, rateLimit: { requestsPerSecond: 50, burst: 50 }, fault: { header: 'x-chaos' }, tracing: { samplingPercent: 25 } });
    const sidecar = outboundVirtualHosts(translateProxy(inputs({ trafficPolicies: policies }), { namespace: 'edge', outboundNamespaces: null }).resources).find((v) => v.name === web)!.routes[0]!;
    expect(policyFields(r)).toEqual(policyFields(sidecar));
    // The cluster-level sections stay on the cluster, as before.
    expect(clustersWithEndpoints(t.resources).find((c) => c.name === web)!.circuitBreaker).toMatchObject({ maxConnections: 10 });
  });

  it("the rule's own timeouts and retry win over the policy's; its other sections still apply", () => {
    const { route: r } = ingressRoute({ backendRefs: [{ name: 'web', port: 8080 }], timeouts: { request: '5s' }, retry: { codes: [502], attempts: 1 } }, [tp('web', routeLevel)]);
    expect(r.timeoutMs).toBe(5000);
    expect(r.retries).toMatchObject({ attempts: 1, retriableStatusCodes: [502], retryNonIdempotent: true });
    expect(r.rateLimit).toMatchObject({ requestsPerSecond: 50 });
    expect(r.fault).toMatchObject({ header: 'x-chaos' });
    // A rule timeout alone keeps the policy's retries, their per-try timeout bounded by it.
    const { route: short } = ingressRoute({ backendRefs: [{ name: 'web', port: 8080 }], timeouts: { request: '300ms' } }, [tp('web', routeLevel)]);
    expect(short.timeoutMs).toBe(300);
    expect(short.retries).toMatchObject({ attempts: 2, perTryTimeoutMs: 300 });
  });

  it('no policy, a policy of cluster sections only, or an invalid policy: the routes are as without any', () => {
    const rule = { backendRefs: [{ name: 'web', port: 8080 }] };
    const none = ingressRoute(rule, []);
    expect(policyFields(none.route)).toEqual({ timeoutMs: 0, retries: null, streamIdleTimeoutMs: 0, rateLimit: null, fault: null });
    const tables = (t: ReturnType<typeof translateIngress>) => JSON.stringify(byType(t, 'route-table'));
    expect(tables(ingressRoute(rule, [tp('web', { circuitBreaker: { maxConnections: 10 } })]).t)).toBe(tables(none.t));
    // Another Service's policy changes nothing here.
    expect(tables(ingressRoute(rule, [tp('web-canary', routeLevel)]).t)).toBe(tables(none.t));
    // Invalid (a duration past the proxy's 24 h): nothing of it applies, as for sidecars.
    const invalid = ingressRoute(rule, [tp('web', { ...routeLevel, timeouts: { request: '48h' } })]);
    expect(JSON.stringify(invalid.t.resources)).toBe(JSON.stringify(none.t.resources));
    expect(invalid.t.problems).toEqual([]);
  });

  it('weighted backends: the sections their policies agree on apply; those they differ on do not, and the problem says so', () => {
    const split = { backendRefs: [{ name: 'web', port: 8080, weight: 90 }, { name: 'web-canary', port: 8080, weight: 10 }] };
    const same = ingressRoute(split, [tp('web', routeLevel), tp('web-canary', routeLevel)]);
    expect(same.t.problems).toEqual([]);
    expect(same.route.retries).toMatchObject({ attempts: 2 });
    const canaryFaster = ingressRoute(split, [tp('web', routeLevel), tp('web-canary', { ...routeLevel, timeouts: { request: '1s', streamIdle: '1m' } })]);
    expect(policyFields(canaryFaster.route)).toMatchObject({ timeoutMs: 0, streamIdleTimeoutMs: 0, retries: { attempts: 2 }, rateLimit: { requestsPerSecond: 50 } });
    expect(canaryFaster.t.problems).toEqual([
      { object: 'HTTPRoute edge/r', message: "httproute/edge/r/rule0/match0: its backends' TrafficPolicies differ on timeouts; those are not applied at the ingress for this rule" },
    ]);
    // A canary without any policy: nothing of web's applies to the split (no retry or fault the canary did not ask for).
    const bare = ingressRoute(split, [tp('web', routeLevel)]);
    expect(policyFields(bare.route)).toEqual({ timeoutMs: 0, retries: null, streamIdleTimeoutMs: 0, rateLimit: null, fault: null });
    expect(bare.t.problems[0]!.message).toContain('differ on retries, timeouts, rateLimit, fault');
    // A backend of weight 0 gets no request, so its policy does not count.
    const drained = ingressRoute({ backendRefs: [{ name: 'web', port: 8080, weight: 1 }, { name: 'web-canary', port: 8080, weight: 0 }] }, [tp('web', routeLevel)]);
    expect(drained.t.problems).toEqual([]);
    expect(drained.route.retries).toMatchObject({ attempts: 2 });
  });
});

describe('Gateway API status (written by the Lease holder)', () => {
  const ingressSvc: V1Service = { metadata: { namespace: 'skein-system', name: 'skein-ingress', labels: { [INGRESS_SERVICE_LABEL]: 'all' } }, spec: { clusterIP: '10.96.0.50', ports: [{ port: 80 }] } };
  const gw = gateway([http80, https('a', 'a.example.com', 'a-cert'), https('bad', 'b.example.com', 'missing')]);
  const good = route('good', [{ backendRefs: [{ name: 'web', port: 8080 }] }], { hostnames: ['a.example.com'] });
  const bad = route('bad', [{ backendRefs: [{ name: 'gone', port: 80 }] }], { parents: [{ name: 'gw', namespace: 'edge', sectionName: 'nope' }] });
  const apply = (ins: MeshInputs, updates: StatusUpdate[]): MeshInputs => {
    const withStatus = <T extends { metadata: { name: string; namespace?: string } }>(list: readonly T[] | undefined, plural: string): T[] =>
      (list ?? []).map((o) => {
        const u = updates.find((x) => x.plural === plural && x.name === o.metadata.name && x.namespace === (o.metadata.namespace ?? ''));
        return u ? { ...o, status: u.status } : o;
      });
    return { ...ins, gatewayClasses: withStatus(ins.gatewayClasses, 'gatewayclasses'), gateways: withStatus(ins.gateways, 'gateways'), httpRoutes: withStatus(ins.httpRoutes, 'httproutes') };
  };

  it('GatewayClass Accepted with the supported features; Gateway Accepted/Programmed, addresses, listeners; route parents with reasons; then nothing more to write', () => {
    const ins = inputs({ services: [...baseServices, ingressSvc], gateways: [gw], httpRoutes: [good, bad] });
    const now = Date.parse('2026-12-06T12:00:00Z');
    const cls = gatewayClassStatusUpdates(ins, now);
    expect(cls).toHaveLength(1);
    expect(cls[0]!.namespace).toBe('');
    expect(cls[0]!.status).toMatchObject({ conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted' }], supportedFeatures: GATEWAY_SUPPORTED_FEATURES.map((name) => ({ name })) });
    const gws = gatewayStatusUpdates(ins, now);
    expect(gws).toHaveLength(1);
    const st = gws[0]!.status as { addresses: unknown; conditions: { type: string; status: string; reason: string }[]; listeners: { name: string; attachedRoutes: number; conditions: { type: string; status: string; reason: string }[] }[] };
    expect(st.addresses).toEqual([{ type: 'IPAddress', value: '10.96.0.50' }]);
    expect(st.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Accepted', 'True', 'Accepted'],
      ['Programmed', 'True', 'Programmed'],
    ]);
    expect(st.listeners.map((l) => [l.name, l.attachedRoutes, l.conditions.find((c) => c.type === 'Programmed')!.status])).toEqual([
      ['http', 1, 'True'],
      ['a', 1, 'True'],
      ['bad', 0, 'False'],
    ]);
    expect(st.listeners[2]!.conditions.find((c) => c.type === 'ResolvedRefs')!.reason).toBe('InvalidCertificateRef');
    const routes = routeStatusUpdates(ins, now);
    const parentsOf = (n: string) => (routes.find((u) => u.name === n)!.status as { parents: RouteParentStatusLike[] }).parents;
    expect(parentsOf('good')[0]!.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Accepted', 'True', 'Accepted'],
      ['ResolvedRefs', 'True', 'ResolvedRefs'],
    ]);
    expect(parentsOf('bad')[0]!.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Accepted', 'False', 'NoMatchingParent'],
      ['ResolvedRefs', 'False', 'BackendNotFound'],
    ]);
    expect(parentsOf('bad')[0]!.controllerName).toBe(SKEIN_CONTROLLER_NAME);
    // Written once: the same inputs with that status want nothing more.
    const after = apply(ins, [...cls, ...gws, ...routes]);
    expect([...gatewayClassStatusUpdates(after, now + 60_000), ...gatewayStatusUpdates(after, now + 60_000), ...routeStatusUpdates(after, now + 60_000)]).toEqual([]);
    // Without an ingress Service the Gateway has no address: not Programmed.
    const noAddr = gatewayStatusUpdates(inputs({ gateways: [gw], httpRoutes: [good] }), now)[0]!.status as { conditions: { type: string; reason: string }[] };
    expect(noAddr.conditions.find((c) => c.type === 'Programmed')!.reason).toBe('AddressNotAssigned');
  });
});

interface RouteParentStatusLike {
  readonly controllerName: string;
  readonly conditions: readonly { type: string; status: string; reason: string }[];
}
