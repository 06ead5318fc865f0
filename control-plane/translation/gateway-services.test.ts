// A Service per Gateway from one ingress: which Services the leader writes (names, ports, stable target ports, deletes),
// the ingress listeners bound on their target ports with only their own Gateway's routes, and the Gateway's address.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { ListenerResource, RouteTableResource } from '../../api/config/config-resources.ts';
import { parseConfigResource } from '../../api/config/parse-config-resource.ts';
import { SKEIN_CONTROLLER_NAME, type Gateway, type GatewayListener, type HTTPRoute } from '../../api/crd/gateway-api.ts';
import { gatewayServiceUpdates, gatewayStatusUpdates } from '../status/desired-status.ts';
import {
  GATEWAY_ANNOTATION,
  GATEWAY_SERVICES_ANNOTATION,
  INGRESS_SERVICE_LABEL,
  PER_GATEWAY,
  TARGET_PORT_RANGE,
  gatewayServiceName,
  gatewayTargetPorts,
  type ServiceChange,
} from './gateway-services.ts';
import type { MeshInputs } from './mesh-inputs.ts';
import { translateIngress } from './translate-ingress.ts';

const shared = (perGateway: boolean): V1Service => ({
  metadata: { namespace: 'skein-system', name: 'skein-ingress', labels: { [INGRESS_SERVICE_LABEL]: 'all' }, ...(perGateway ? { annotations: { [GATEWAY_SERVICES_ANNOTATION]: PER_GATEWAY } } : {}) },
  spec: { type: 'LoadBalancer', clusterIP: '10.96.0.50', selector: { app: 'skein-ingress' }, ports: [{ port: 80, targetPort: 80 }] },
});
const backend: V1Service = { metadata: { namespace: 'infra', name: 'web' }, spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 8080 }] } };
const http = (name: string, port = 80): GatewayListener => ({ name, port, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Same' } } });
const gateway = (name: string, listeners: GatewayListener[]): Gateway => ({ metadata: { namespace: 'infra', name, generation: 1 }, spec: { gatewayClassName: 'skein', listeners } });
const route = (name: string, gw: string, path: string): HTTPRoute => ({
  metadata: { namespace: 'infra', name, generation: 1 },
  spec: { parentRefs: [{ name: gw }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: 'web', port: 8080 }] }] },
});

/** The EndpointSlice the cluster makes for a Service once the ingress pod is ready behind it. */
const readySlice = (s: V1Service): V1EndpointSlice => ({
  metadata: { namespace: s.metadata!.namespace!, name: `${s.metadata!.name!}-x`, labels: { 'kubernetes.io/service-name': s.metadata!.name! } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.244.0.30'], conditions: { ready: true } }],
});

function inputs(services: readonly V1Service[], gateways: readonly Gateway[], httpRoutes: readonly HTTPRoute[] = [], endpointSlices: readonly V1EndpointSlice[] = services.map(readySlice)): MeshInputs {
  return {
    services: [backend, ...services],
    endpointSlices,
    namespaces: [{ metadata: { name: 'infra' } }],
    trafficPolicies: [],
    gatewayClasses: [{ metadata: { name: 'skein', generation: 1 }, spec: { controllerName: SKEIN_CONTROLLER_NAME } }],
    gateways,
    httpRoutes,
  };
}

/** The cluster after the writes: created Services get a cluster IP, replaced ones their new body, deleted ones go. */
function applied(services: readonly V1Service[], changes: readonly ServiceChange[], ip = (n: number) => `10.96.1.${n}`): V1Service[] {
  let out = [...services];
  changes.forEach((c, i) => {
    out = out.filter((s) => !(s.metadata?.namespace === c.namespace && s.metadata?.name === c.name));
    if (c.op === 'create') out.push({ ...c.service, metadata: { ...c.service.metadata, uid: `uid-${i}` }, spec: { ...c.service.spec, clusterIP: ip(i + 1) } });
    if (c.op === 'replace') out.push(c.service);
  });
  return out;
}

const targets = (c: ServiceChange): number[] => (c.service.spec?.ports ?? []).map((p) => p.targetPort as number);

describe('a Service per Gateway', () => {
  const a = gateway('a', [http('http')]);
  const b = gateway('b', [http('http'), http('alt', 8080)]);

  it('none without the annotation on the shared ingress Service: every Gateway keeps its address', () => {
    const ins = inputs([shared(false)], [a, b]);
    expect(gatewayServiceUpdates(ins)).toEqual([]);
    expect(gatewayTargetPorts(ins.services, 'infra', 'a').size).toBe(0);
    const st = gatewayStatusUpdates(ins, 0)[0]!.status as { addresses: unknown };
    expect(st.addresses).toEqual([{ type: 'IPAddress', value: '10.96.0.50' }]);
  });

  it('with it: one Service each, beside the shared one, with its type and selector and a distinct target port per listener port', () => {
    const changes = gatewayServiceUpdates(inputs([shared(true)], [a, b]));
    expect(changes.map((c) => [c.op, c.namespace, c.name])).toEqual([
      ['create', 'skein-system', gatewayServiceName('infra', 'a')],
      ['create', 'skein-system', gatewayServiceName('infra', 'b')],
    ]);
    const svcB = changes[1]!.service;
    expect(svcB.metadata?.annotations?.[GATEWAY_ANNOTATION]).toBe('infra/b');
    expect(svcB.metadata?.labels?.[INGRESS_SERVICE_LABEL]).toBe('infra.b');
    expect(svcB.spec).toMatchObject({ type: 'LoadBalancer', selector: { app: 'skein-ingress' } });
    expect(svcB.spec?.ports?.map((p) => p.port)).toEqual([80, 8080]);
    const all = changes.flatMap(targets);
    expect(new Set(all).size).toBe(3);
    for (const t of all) expect(t >= TARGET_PORT_RANGE.first && t < TARGET_PORT_RANGE.first + TARGET_PORT_RANGE.count).toBe(true);
    // Names are valid DNS-1035 labels, distinct for names that would collide when shortened.
    const long = gatewayServiceName('ns', 'x'.repeat(80));
    expect(long).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    expect(gatewayServiceName('a-b', 'c')).not.toBe(gatewayServiceName('a', 'b-c'));
  });

  it('written once: nothing more to write; a target port stays while its Gateway keeps the port; gone Gateways lose their Service', () => {
    const first = gatewayServiceUpdates(inputs([shared(true)], [a, b]));
    const cluster = applied([shared(true)], first);
    expect(gatewayServiceUpdates(inputs(cluster, [a, b]))).toEqual([]);
    // A new Gateway takes none of the ports given; b drops a port: its other target stays.
    const c = gateway('c', [http('http')]);
    const b2 = gateway('b', [http('http')]);
    const next = gatewayServiceUpdates(inputs(cluster, [a, b2, c]));
    expect(next.map((x) => [x.op, x.service.metadata?.annotations?.[GATEWAY_ANNOTATION]])).toEqual([
      ['replace', 'infra/b'],
      ['create', 'infra/c'],
    ]);
    expect(targets(next[0]!)).toEqual([targets(first[1]!)[0]]);
    expect(next[0]!.service.spec?.clusterIP).toBe('10.96.1.2');
    expect(first.flatMap(targets)).not.toContain(targets(next[1]!)[0]);
    // a is deleted, and then every Service once the shared Service no longer asks for them.
    expect(gatewayServiceUpdates(inputs(cluster, [b])).map((x) => [x.op, x.name])).toEqual([['delete', gatewayServiceName('infra', 'a')]]);
    expect(gatewayServiceUpdates(inputs(cluster.map((s) => (s.metadata?.name === 'skein-ingress' ? shared(false) : s)), [a, b])).map((x) => x.op)).toEqual(['delete', 'delete']);
  });

  it('a Gateway with no valid listener gets no Service (and no address)', () => {
    const bad = gateway('bad', [{ name: 'tcp', port: 9000, protocol: 'TCP' }]);
    expect(gatewayServiceUpdates(inputs([shared(true)], [bad]))).toEqual([]);
  });

  it("the ingress binds each Gateway's listeners on its own target ports with only its routes; its address is its own Service's", () => {
    const routes = [route('ra', 'a', '/a'), route('rb', 'b', '/b')];
    const before = inputs([shared(true)], [a, b], routes);
    // Until the leader made its Service, a Gateway has no address: the shared one would serve the other Gateway's routes.
    const pending = gatewayStatusUpdates(before, 0).map((u) => u.status as { addresses: unknown[]; conditions: { type: string; status: string; reason: string }[] });
    expect(pending[0]!.addresses).toEqual([]);
    expect(pending[0]!.conditions.find((c) => c.type === 'Programmed')).toMatchObject({ status: 'False', reason: 'AddressNotAssigned' });

    const cluster = applied([shared(true)], gatewayServiceUpdates(before));
    const ins = inputs(cluster, [a, b], routes);
    const ta = gatewayTargetPorts(ins.services, 'infra', 'a').get(80)!;
    const tb = gatewayTargetPorts(ins.services, 'infra', 'b').get(80)!;
    const t = translateIngress(ins, { gateway: null });
    expect(t.problems).toEqual([]);
    for (const r of t.resources) expect(parseConfigResource(r.type, r.name, JSON.parse(JSON.stringify(r.body)), { mode: 'ingress' })).toMatchObject({ ok: true });
    const listeners = t.resources.filter((r) => r.type === 'listener').map((r) => (r.body as ListenerResource).port);
    expect(listeners.sort((x, y) => x - y)).toEqual([80, 8080, ...[ta, tb, gatewayTargetPorts(ins.services, 'infra', 'b').get(8080)!].sort((x, y) => x - y)]);
    const pathsOn = (port: number): string[] =>
      (t.resources.find((r) => r.type === 'route-table' && r.name === `ingress:${port}`)!.body as RouteTableResource).virtualHosts.flatMap((v) => v.routes.map((r) => r.name));
    // The shared port serves both Gateways' routes (as before); each own port only its Gateway's.
    expect(pathsOn(80)).toEqual(expect.arrayContaining(['httproute/infra/ra/rule0/match0', 'httproute/infra/rb/rule0/match0']));
    expect(pathsOn(ta)).toEqual(['httproute/infra/ra/rule0/match0']);
    expect(pathsOn(tb)).toEqual(['httproute/infra/rb/rule0/match0']);
    // A proxy for one Gateway (--gateway) binds its listener ports only.
    expect(translateIngress(ins, { gateway: 'infra/a' }).resources.filter((r) => r.type === 'listener').map((r) => (r.body as ListenerResource).port)).toEqual([80]);

    const st = gatewayStatusUpdates(ins, 0).map((u) => u.status as { addresses: unknown[] });
    expect(st.map((s) => s.addresses)).toEqual([[{ type: 'IPAddress', value: '10.96.1.1' }], [{ type: 'IPAddress', value: '10.96.1.2' }]]);
    // Not before the Service has a ready endpoint: until kube-proxy programs it, its address leads nowhere (or elsewhere).
    const unrouted = gatewayStatusUpdates(inputs(cluster, [a, b], routes, []), 0).map((u) => u.status as { addresses: unknown[]; conditions: { type: string; reason: string }[] });
    expect(unrouted.map((s) => s.addresses)).toEqual([[], []]);
    expect(unrouted[0]!.conditions.find((c) => c.type === 'Programmed')!.reason).toBe('AddressNotAssigned');
  });
});
