// BackendTLSPolicy translated for the ingress: a valid policy gives the targeted Service port's cluster its upstreamTls
// (SNI = hostname, the CA ConfigMap as a secret resource, SANs) and the policy Accepted / ResolvedRefs on every Skein
// Gateway that routes to the Service; precedence between policies of one target (older, then by name; a sectionName beats
// the whole Service); a bad CA reference or kind gets its reason and fails the rule (500) instead of reaching the backend
// unverified.
import { readFileSync } from 'node:fs';
import type { V1ConfigMap, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig, VirtualHostConfig } from '../../api/config/proxy-config.ts';
import { parseConfigResource } from '../../api/config/parse-config-resource.ts';
import { SKEIN_CONTROLLER_NAME, type BackendTLSPolicy, type Gateway, type HTTPRoute } from '../../api/crd/gateway-api.ts';
import { backendTlsPolicyStatusUpdates, gatewayStatusUpdates } from '../../control-plane/status/desired-status.ts';
import { INGRESS_SERVICE_LABEL } from '../../control-plane/translation/gateway-resolution.ts';
import { clusterName, type MeshInputs } from '../../control-plane/translation/mesh-inputs.ts';
import { translateIngress } from '../../control-plane/translation/translate-ingress.ts';
import { clustersWithEndpoints } from '../../control-plane/translation/translate-proxy.ts';
import { makeTestCa, type TestCa } from '../support/test-cert.ts';

let ca: TestCa;
beforeAll(() => {
  ca = makeTestCa('backend-ca');
});
afterAll(() => ca?.remove());

const NS = 'infra';
const svc = (name: string, ports: { name: string; port: number }[]): V1Service => ({ metadata: { namespace: NS, name }, spec: { clusterIP: '10.96.0.30', ports: ports.map((p) => ({ ...p, targetPort: 8443 })) } });
const slice = (name: string): V1EndpointSlice => ({
  metadata: { namespace: NS, name: `${name}-x`, labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4',
  ports: [{ name: 'https', port: 8443 }, { name: 'btls', port: 8443 }, { name: 'https-1', port: 8443 }, { name: 'https-2', port: 8443 }],
  endpoints: [{ addresses: ['10.244.0.9'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `${name}-pod`, namespace: NS } }],
});
const policy = (name: string, target: string, o: { section?: string; refs?: { group: string; kind: string; name: string }[]; wellKnown?: string; hostname?: string; sans?: NonNullable<BackendTLSPolicy['spec']['validation']['subjectAltNames']>; created?: string } = {}): BackendTLSPolicy => ({
  metadata: { namespace: NS, name, generation: 4, creationTimestamp: o.created ?? '2026-12-06T10:00:00Z' },
  spec: {
    targetRefs: [{ group: '', kind: 'Service', name: target, ...(o.section ? { sectionName: o.section } : {}) }],
    validation: {
      ...(o.wellKnown ? {} : { caCertificateRefs: o.refs ?? [{ group: '', kind: 'ConfigMap', name: 'backend-ca' }] }),
      ...(o.wellKnown ? { wellKnownCACertificates: o.wellKnown } : {}),
      hostname: o.hostname ?? 'abc.example.com',
      ...(o.sans ? { subjectAltNames: o.sans } : {}),
    },
  },
});
const gateway: Gateway = { metadata: { namespace: NS, name: 'same-namespace', generation: 1 }, spec: { gatewayClassName: 'skein', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } };
const route = (backends: { name: string; port: number; path: string }[]): HTTPRoute => ({
  metadata: { namespace: NS, name: 'r', generation: 1 },
  spec: {
    parentRefs: [{ name: 'same-namespace' }],
    rules: backends.map((b) => ({ matches: [{ path: { type: 'Exact' as const, value: b.path } }], backendRefs: [{ name: b.name, port: b.port }] })),
  },
});

function inputs(policies: BackendTLSPolicy[], services: V1Service[], backends: { name: string; port: number; path: string }[], configMaps?: V1ConfigMap[]): MeshInputs {
  return {
    services: [...services, { metadata: { namespace: 'skein-system', name: 'skein-ingress', labels: { [INGRESS_SERVICE_LABEL]: 'all' } }, spec: { clusterIP: '10.96.0.50', ports: [{ port: 80 }] } }],
    endpointSlices: services.map((s) => slice(s.metadata!.name!)),
    namespaces: [{ metadata: { name: NS } }],
    trafficPolicies: [],
    gatewayClasses: [{ metadata: { name: 'skein', generation: 1 }, spec: { controllerName: SKEIN_CONTROLLER_NAME } }],
    gateways: [gateway],
    httpRoutes: [route(backends)],
    configMaps: configMaps ?? [
      { metadata: { namespace: NS, name: 'backend-ca' }, data: { 'ca.crt': readFileSync(ca.certFile, 'utf8') } },
      { metadata: { namespace: NS, name: 'malformed' }, data: {} },
    ],
    backendTlsPolicies: policies,
  };
}

const clusterOf = (t: ReturnType<typeof translateIngress>, name: string, port: number): ClusterConfig => clustersWithEndpoints(t.resources).find((c) => c.name === clusterName(NS, name, port))!;
const routeAt = (t: ReturnType<typeof translateIngress>, path: string) =>
  (t.resources.find((r) => r.type === 'route-table')!.body as { virtualHosts: VirtualHostConfig[] }).virtualHosts.flatMap((v) => v.routes).find((r) => r.match.path?.value === path)!;
const statusOf = (ins: MeshInputs) =>
  Object.fromEntries(
    backendTlsPolicyStatusUpdates(ins, Date.parse('2026-12-06T12:00:00Z')).map((u) => [
      u.name,
      (u.status as { ancestors: { ancestorRef: { name: string; kind: string }; controllerName: string; conditions: { type: string; status: string; reason: string; observedGeneration: number }[] }[] }).ancestors,
    ]),
  );

describe('BackendTLSPolicy at the ingress', () => {
  it('a valid policy: the cluster originates TLS with the hostname as SNI and the CA ConfigMap as a trust bundle; Accepted on the Gateway', () => {
    const ins = inputs([policy('normative', 'tls-svc', { section: 'btls' })], [svc('tls-svc', [{ name: 'btls', port: 443 }])], [{ name: 'tls-svc', port: 443, path: '/backendtlspolicy' }]);
    const t = translateIngress(ins, { gateway: null });
    for (const r of t.resources) expect(parseConfigResource(r.type, r.name, JSON.parse(JSON.stringify(r.body)), { mode: 'ingress' })).toMatchObject({ ok: true });
    expect(clusterOf(t, 'tls-svc', 443).upstreamTls).toEqual({ sni: 'abc.example.com', caSecrets: [`ca:${NS}/backend-ca`] });
    expect(t.resources.find((r) => r.type === 'secret' && r.name === `ca:${NS}/backend-ca`)!.body).toMatchObject({ trustBundle: readFileSync(ca.certFile, 'utf8') });
    const st = statusOf(ins).normative!;
    expect(st).toHaveLength(1);
    expect(st[0]!.ancestorRef).toMatchObject({ kind: 'Gateway', name: 'same-namespace' });
    expect(st[0]!.controllerName).toBe(SKEIN_CONTROLLER_NAME);
    expect(st[0]!.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ['Accepted', 'True', 'Accepted', 4],
      ['ResolvedRefs', 'True', 'ResolvedRefs', 4],
    ]);
  });

  it('subjectAltNames and the well-known system CAs reach the cluster', () => {
    const ins = inputs(
      [policy('sans', 'tls-svc', { sans: [{ type: 'URI', uri: 'spiffe://abc.example.com/test-identity' }, { type: 'Hostname', hostname: 'ABC.example.com' }] }), policy('system', 'pub', { wellKnown: 'System', hostname: 'api.example.org' })],
      [svc('tls-svc', [{ name: 'btls', port: 443 }]), svc('pub', [{ name: 'https', port: 443 }])],
      [{ name: 'tls-svc', port: 443, path: '/a' }, { name: 'pub', port: 443, path: '/b' }],
    );
    const t = translateIngress(ins, { gateway: null });
    expect(clusterOf(t, 'tls-svc', 443).upstreamTls!.subjectAltNames).toEqual([
      { type: 'uri', value: 'spiffe://abc.example.com/test-identity' },
      { type: 'dns', value: 'abc.example.com' },
    ]);
    expect(clusterOf(t, 'pub', 443).upstreamTls).toEqual({ sni: 'api.example.org', systemCas: true });
    expect(statusOf(ins).system![0]!.conditions[0]).toMatchObject({ status: 'True', reason: 'Accepted' });
    // An unknown set of well-known CAs is not accepted.
    const odd = inputs([policy('odd', 'pub', { wellKnown: 'example.com/mine' })], [svc('pub', [{ name: 'https', port: 443 }])], [{ name: 'pub', port: 443, path: '/b' }]);
    expect(statusOf(odd).odd![0]!.conditions[0]).toMatchObject({ status: 'False', reason: 'Invalid' });
  });

  it('a missing or malformed CA ConfigMap, or another kind: its reasons, and the rule answers 500 instead of reaching the backend', () => {
    const ins = inputs(
      [
        policy('nonexistent', 'a', { refs: [{ group: '', kind: 'ConfigMap', name: 'nonexistent-ca' }] }),
        policy('malformed', 'b', { refs: [{ group: '', kind: 'ConfigMap', name: 'malformed' }] }),
        policy('invalid-kind', 'c', { refs: [{ group: 'invalid.io', kind: 'InvalidKind', name: 'x' }] }),
      ],
      [svc('a', [{ name: 'https', port: 443 }]), svc('b', [{ name: 'https', port: 443 }]), svc('c', [{ name: 'https', port: 443 }])],
      [{ name: 'a', port: 443, path: '/a' }, { name: 'b', port: 443, path: '/b' }, { name: 'c', port: 443, path: '/c' }],
    );
    const st = statusOf(ins);
    const reasons = (n: string) => st[n]![0]!.conditions.map((c) => `${c.type}/${c.status}/${c.reason}`);
    expect(reasons('nonexistent')).toEqual(['Accepted/False/NoValidCACertificate', 'ResolvedRefs/False/InvalidCACertificateRef']);
    expect(reasons('malformed')).toEqual(['Accepted/False/NoValidCACertificate', 'ResolvedRefs/False/InvalidCACertificateRef']);
    expect(reasons('invalid-kind')).toEqual(['Accepted/False/NoValidCACertificate', 'ResolvedRefs/False/InvalidKind']);
    const t = translateIngress(ins, { gateway: null });
    for (const p of ['/a', '/b', '/c']) {
      const r = routeAt(t, p);
      expect(r.backends).toEqual([]);
      expect(r.directResponse?.status).toBe(500);
    }
    expect(routeAt(t, '/a').directResponse!.body).toContain('nonexistent-ca: not found');
  });

  it('precedence: the older policy of a target wins (then by name), the other is Conflicted; a sectionName policy beats the whole-Service one', () => {
    const ins = inputs(
      [
        policy('conflicted-2', 'whole', { hostname: 'abc.example.com' }),
        policy('conflicted-1', 'whole', { hostname: 'other.example.com' }),
        policy('section', 'two-ports', { section: 'https-1', hostname: 'other.example.com', created: '2026-12-06T11:00:00Z' }),
        policy('whole-service', 'two-ports', { hostname: 'abc.example.com' }),
      ],
      [svc('whole', [{ name: 'https', port: 443 }]), svc('two-ports', [{ name: 'https-1', port: 443 }, { name: 'https-2', port: 8443 }])],
      [{ name: 'whole', port: 443, path: '/w' }, { name: 'two-ports', port: 443, path: '/s' }, { name: 'two-ports', port: 8443, path: '/n' }],
    );
    const st = statusOf(ins);
    expect(st['conflicted-1']![0]!.conditions[0]).toMatchObject({ status: 'True', reason: 'Accepted' });
    expect(st['conflicted-2']![0]!.conditions[0]).toMatchObject({ status: 'False', reason: 'Conflicted' });
    expect(st.section![0]!.conditions[0]).toMatchObject({ status: 'True', reason: 'Accepted' });
    expect(st['whole-service']![0]!.conditions[0]).toMatchObject({ status: 'True', reason: 'Accepted' });
    const t = translateIngress(ins, { gateway: null });
    expect(clusterOf(t, 'whole', 443).upstreamTls!.sni).toBe('other.example.com');
    expect(clusterOf(t, 'two-ports', 443).upstreamTls!.sni).toBe('other.example.com');
    expect(clusterOf(t, 'two-ports', 8443).upstreamTls!.sni).toBe('abc.example.com');
  });

  it("a Gateway's backend client certificate (spec.tls.backend): presented by the clusters of its routes, its ResolvedRefs condition", () => {
    const b64 = (x: string): string => Buffer.from(x).toString('base64');
    const pem = (what: string): string => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;
    const clientSecret = { metadata: { namespace: NS, name: 'client' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(pem('CERTIFICATE')), 'tls.key': b64(pem('PRIVATE KEY')) } };
    const withCert = (ref: Record<string, string>): Gateway => ({ ...gateway, spec: { ...gateway.spec, tls: { backend: { clientCertificateRef: ref as never } } } });
    const base = inputs([policy('p', 'tls-svc')], [svc('tls-svc', [{ name: 'https', port: 443 }])], [{ name: 'tls-svc', port: 443, path: '/x' }]);
    const ins = { ...base, gateways: [withCert({ group: '', kind: 'Secret', name: 'client' })], tlsSecrets: [clientSecret] };
    const t = translateIngress(ins, { gateway: null });
    expect(clusterOf(t, 'tls-svc', 443).upstreamTls!.clientCertificate).toEqual({ secret: `tls:${NS}/client` });
    expect(t.resources.find((r) => r.type === 'secret' && r.name === `tls:${NS}/client`)!.body).toMatchObject({ certificateChain: pem('CERTIFICATE'), privateKey: pem('PRIVATE KEY') });
    for (const r of t.resources) expect(parseConfigResource(r.type, r.name, JSON.parse(JSON.stringify(r.body)), { mode: 'ingress' })).toMatchObject({ ok: true });
    const gwConditions = (i: MeshInputs) =>
      (gatewayStatusUpdates(i, 0)[0]!.status as { conditions: { type: string; status: string; reason: string }[] }).conditions.map((c) => `${c.type}/${c.status}/${c.reason}`);
    expect(gwConditions(ins)).toEqual(['Accepted/True/Accepted', 'Programmed/True/Programmed', 'ResolvedRefs/True/ResolvedRefs']);
    // Bad references: each its reason, the Gateway still Accepted, and no certificate presented.
    const bad = (ref: Record<string, string>) => ({ ...base, gateways: [withCert(ref)], tlsSecrets: [clientSecret] });
    expect(gwConditions(bad({ group: '', kind: 'Secret', name: 'nonexistent' }))).toContain('ResolvedRefs/False/InvalidClientCertificateRef');
    expect(gwConditions(bad({ group: 'wrong.group.io', kind: 'Secret', name: 'client' }))).toContain('ResolvedRefs/False/InvalidClientCertificateRef');
    expect(gwConditions(bad({ group: '', kind: 'WrongKind', name: 'client' }))).toContain('ResolvedRefs/False/InvalidClientCertificateRef');
    expect(gwConditions(bad({ group: '', kind: 'Secret', name: 'client', namespace: 'other' }))).toEqual(['Accepted/True/Accepted', 'Programmed/True/Programmed', 'ResolvedRefs/False/RefNotPermitted']);
    expect(clusterOf(translateIngress(bad({ group: '', kind: 'Secret', name: 'nonexistent' }), { gateway: null }), 'tls-svc', 443).upstreamTls!.clientCertificate).toBeUndefined();
    // Without spec.tls.backend the Gateway has no ResolvedRefs condition at all.
    expect(gwConditions(base)).toEqual(['Accepted/True/Accepted', 'Programmed/True/Programmed']);
  });

  it('a Service no policy targets is reached as before; a policy no Gateway routes to gets no ancestor of ours', () => {
    const ins = inputs([policy('unused', 'elsewhere')], [svc('plain', [{ name: 'http', port: 80 }]), svc('elsewhere', [{ name: 'https', port: 443 }])], [{ name: 'plain', port: 80, path: '/p' }]);
    const t = translateIngress(ins, { gateway: null });
    expect(clusterOf(t, 'plain', 80).upstreamTls).toBeUndefined();
    expect(backendTlsPolicyStatusUpdates(ins, 0)).toEqual([]);
  });
});
