// A Gateway's client certificate validation (spec.tls.frontend), translated: the default and per-port CA ConfigMaps become
// the HTTPS listener's clientValidation with the CAs as `secret` resources; AllowInsecureFallback sets the Gateway's
// InsecureFrontendValidationMode condition; every bad reference (missing ConfigMap, no ca.crt, not a CA, another kind,
// another namespace without a ReferenceGrant) gets the listener condition the Gateway API names and leaves the listener
// unserved, while the Gateway's other listeners are served as before.
import { readFileSync } from 'node:fs';
import type { V1ConfigMap, V1Secret, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListenerResource, SecretResource } from '../../api/config/config-resources.ts';
import { parseConfigResource } from '../../api/config/parse-config-resource.ts';
import { SKEIN_CONTROLLER_NAME, type Gateway, type GatewayListener, type GatewayTLSConfig, type ReferenceGrant } from '../../api/crd/gateway-api.ts';
import { gatewayStatusUpdates } from '../../control-plane/status/desired-status.ts';
import { INGRESS_SERVICE_LABEL, resolveGateways, type GatewayOutcome } from '../../control-plane/translation/gateway-resolution.ts';
import type { MeshInputs } from '../../control-plane/translation/mesh-inputs.ts';
import { gatewayInputsOf, translateIngress } from '../../control-plane/translation/translate-ingress.ts';
import { makeTestCa, makeTestCert, type TestCa, type TestCert } from '../support/test-cert.ts';

let caA: TestCa;
let caB: TestCa;
let server: TestCert;
let leaf: TestCert;

beforeAll(() => {
  caA = makeTestCa('ca-a');
  caB = makeTestCa('ca-b');
  server = makeTestCert(['edge.example.com']);
  leaf = caA.issue('not-a-ca');
});
afterAll(() => {
  for (const c of [caA, caB, server]) c?.remove();
});

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const pem = (f: string): string => readFileSync(f, 'utf8');
const configMap = (ns: string, name: string, data: Record<string, string>): V1ConfigMap => ({ metadata: { namespace: ns, name }, data });
const tlsSecret = (): V1Secret => ({ metadata: { namespace: 'edge', name: 'cert' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(pem(server.certFile)), 'tls.key': b64(pem(server.keyFile)) } });
const ingressSvc: V1Service = { metadata: { namespace: 'skein-system', name: 'skein-ingress', labels: { [INGRESS_SERVICE_LABEL]: 'all' } }, spec: { clusterIP: '10.96.0.50', ports: [{ port: 443 }] } };

const httpsOn = (name: string, port: number, hostname?: string): GatewayListener => ({
  name,
  port,
  protocol: 'HTTPS',
  ...(hostname ? { hostname } : {}),
  tls: { certificateRefs: [{ name: 'cert' }] },
});
const caRef = (name: string, o: { kind?: string; namespace?: string } = {}) => ({ group: '', kind: o.kind ?? 'ConfigMap', name, ...(o.namespace ? { namespace: o.namespace } : {}) });
function gateway(listeners: GatewayListener[], tls: GatewayTLSConfig, name = 'gw'): Gateway {
  return { metadata: { namespace: 'edge', name, generation: 3 }, spec: { gatewayClassName: 'skein', listeners, tls } };
}
function inputs(gateways: Gateway[], o: Partial<MeshInputs> = {}): MeshInputs {
  return {
    services: [ingressSvc],
    endpointSlices: [],
    namespaces: [{ metadata: { name: 'edge' } }, { metadata: { name: 'cas' } }],
    trafficPolicies: [],
    gatewayClasses: [{ metadata: { name: 'skein', generation: 1 }, spec: { controllerName: SKEIN_CONTROLLER_NAME } }],
    tlsSecrets: [tlsSecret()],
    configMaps: [
      configMap('edge', 'ca-a', { 'ca.crt': pem(caA.certFile) }),
      configMap('edge', 'ca-b', { 'ca.crt': pem(caB.certFile) }),
      configMap('edge', 'no-key', { 'other.crt': pem(caA.certFile) }),
      configMap('edge', 'leaf', { 'ca.crt': pem(leaf.certFile) }),
      configMap('edge', 'garbage', { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }),
      configMap('cas', 'shared', { 'ca.crt': pem(caB.certFile) }),
    ],
    gateways,
    ...o,
  };
}
const outcome = (ins: MeshInputs, name = 'gw'): GatewayOutcome => resolveGateways(gatewayInputsOf(ins)).gateways.find((g) => g.name === name)!;
const listenerOf = (t: ReturnType<typeof translateIngress>, name: string): ListenerResource => t.resources.find((r) => r.type === 'listener' && r.name === name)!.body as ListenerResource;
const conditions = (o: GatewayOutcome, l: string) => {
  const x = o.listeners.find((y) => y.name === l)!;
  return [x.accepted, x.resolvedRefs, x.programmed].map((c) => `${c.status}/${c.reason}`);
};

describe("a Gateway's frontend TLS validation", () => {
  it('default and per-port CAs become the listener clientValidation, with the CAs as secret resources the proxy takes', () => {
    const gw = gateway([httpsOn('https', 443), httpsOn('second', 8443, 'second.example.com')], {
      frontend: { default: { validation: { caCertificateRefs: [caRef('ca-a')] } }, perPort: [{ port: 8443, tls: { validation: { caCertificateRefs: [caRef('ca-b')] } } }] },
    });
    const t = translateIngress(inputs([gw]), { gateway: null });
    for (const r of t.resources) expect(parseConfigResource(r.type, r.name, JSON.parse(JSON.stringify(r.body)), { mode: 'ingress' })).toMatchObject({ ok: true });
    expect(listenerOf(t, 'ingress:443').tls!.clientValidation).toEqual({ caSecrets: ['ca:edge/ca-a'], mode: 'require' });
    expect(listenerOf(t, 'ingress:8443').tls!.clientValidation).toEqual({ caSecrets: ['ca:edge/ca-b'], mode: 'require' });
    const secret = t.resources.find((r) => r.type === 'secret' && r.name === 'ca:edge/ca-b')!.body as SecretResource;
    expect(secret).toEqual({ certificateChain: null, privateKey: null, trustBundle: pem(caB.certFile) });
    expect(t.problems).toEqual([]);
    // No fallback anywhere: no InsecureFrontendValidationMode condition.
    expect(outcome(inputs([gw])).insecureFrontend).toBeNull();
  });

  it('a per-port entry without validation turns it off on that port; HTTP listeners are never affected', () => {
    const gw = gateway([httpsOn('https', 443), httpsOn('plain-tls', 8443), { name: 'http', port: 80, protocol: 'HTTP' }], {
      frontend: { default: { validation: { caCertificateRefs: [caRef('ca-a')] } }, perPort: [{ port: 8443, tls: {} }, { port: 80, tls: { validation: { caCertificateRefs: [caRef('missing')] } } }] },
    });
    const t = translateIngress(inputs([gw]), { gateway: null });
    expect(listenerOf(t, 'ingress:443').tls!.clientValidation).toEqual({ caSecrets: ['ca:edge/ca-a'], mode: 'require' });
    expect(listenerOf(t, 'ingress:8443').tls!.clientValidation).toBeUndefined();
    expect(listenerOf(t, 'ingress:80').tls).toBeNull();
    expect(conditions(outcome(inputs([gw])), 'http')).toEqual(['True/Accepted', 'True/ResolvedRefs', 'True/Programmed']);
  });

  it('AllowInsecureFallback: the proxy mode, and the Gateway condition InsecureFrontendValidationMode True / ConfigurationChanged', () => {
    const gw = gateway([httpsOn('https', 443), httpsOn('second', 8443, 'second.example.com')], {
      frontend: { default: { validation: { caCertificateRefs: [caRef('ca-a')] } }, perPort: [{ port: 8443, tls: { validation: { mode: 'AllowInsecureFallback', caCertificateRefs: [caRef('ca-b')] } } }] },
    });
    const t = translateIngress(inputs([gw]), { gateway: null });
    expect(listenerOf(t, 'ingress:443').tls!.clientValidation!.mode).toBe('require');
    expect(listenerOf(t, 'ingress:8443').tls!.clientValidation!.mode).toBe('allow-insecure-fallback');
    const now = Date.parse('2026-12-06T12:00:00Z');
    const st = gatewayStatusUpdates(inputs([gw]), now)[0]!.status as { conditions: { type: string; status: string; reason: string; message: string }[] };
    expect(st.conditions.find((c) => c.type === 'InsecureFrontendValidationMode')).toMatchObject({ status: 'True', reason: 'ConfigurationChanged' });
    expect(st.conditions.find((c) => c.type === 'InsecureFrontendValidationMode')!.message).toContain('port 8443');
    // Back to AllowValidOnly: the condition goes.
    const strict = gateway([...gw.spec.listeners], { frontend: { default: { validation: { caCertificateRefs: [caRef('ca-a')] } } } });
    const again = gatewayStatusUpdates(inputs([strict]), now)[0]!.status as { conditions: { type: string }[] };
    expect(again.conditions.map((c) => c.type)).toEqual(['Accepted', 'Programmed']);
  });

  it('bad CA references: each with its reason, the listener not accepted and not served, the others served', () => {
    const gw = gateway(
      [httpsOn('https', 443), httpsOn('missing', 7443, 'a.example.com'), httpsOn('kind', 8443, 'b.example.com'), httpsOn('grant', 6443, 'c.example.com'), httpsOn('nokey', 5443), httpsOn('leaf', 4443), httpsOn('garbage', 3443)],
      {
        frontend: {
          default: { validation: { caCertificateRefs: [caRef('ca-a')] } },
          perPort: [
            { port: 7443, tls: { validation: { caCertificateRefs: [caRef('does-not-exist')] } } },
            { port: 8443, tls: { validation: { caCertificateRefs: [{ group: '', kind: 'Service', name: 'web' }] } } },
            { port: 6443, tls: { validation: { caCertificateRefs: [caRef('shared', { namespace: 'cas' })] } } },
            { port: 5443, tls: { validation: { caCertificateRefs: [caRef('no-key')] } } },
            { port: 4443, tls: { validation: { caCertificateRefs: [caRef('leaf')] } } },
            { port: 3443, tls: { validation: { caCertificateRefs: [caRef('garbage')] } } },
          ],
        },
      },
    );
    const o = outcome(inputs([gw]));
    expect(conditions(o, 'https')).toEqual(['True/Accepted', 'True/ResolvedRefs', 'True/Programmed']);
    expect(conditions(o, 'missing')).toEqual(['False/NoValidCACertificate', 'False/InvalidCACertificateRef', 'False/Invalid']);
    expect(conditions(o, 'kind')).toEqual(['False/NoValidCACertificate', 'False/InvalidCACertificateKind', 'False/Invalid']);
    expect(conditions(o, 'grant')).toEqual(['False/NoValidCACertificate', 'False/RefNotPermitted', 'False/Invalid']);
    expect(conditions(o, 'nokey')).toEqual(['False/NoValidCACertificate', 'False/InvalidCACertificateRef', 'False/Invalid']);
    expect(conditions(o, 'leaf')).toEqual(['False/NoValidCACertificate', 'False/InvalidCACertificateRef', 'False/Invalid']);
    expect(conditions(o, 'garbage')).toEqual(['False/NoValidCACertificate', 'False/InvalidCACertificateRef', 'False/Invalid']);
    // The messages say which reference and why.
    const msg = (l: string) => o.listeners.find((x) => x.name === l)!.resolvedRefs.message;
    expect(msg('missing')).toContain('ConfigMap edge/does-not-exist: not found');
    expect(msg('nokey')).toContain('has no ca.crt key');
    expect(msg('leaf')).toContain('not a CA');
    expect(msg('garbage')).toContain('does not parse');
    // Only the valid listener is served.
    const t = translateIngress(inputs([gw]), { gateway: null });
    expect(t.resources.filter((r) => r.type === 'listener').map((r) => r.name)).toEqual(['ingress:443']);
    // A ReferenceGrant from Gateways of edge to ConfigMaps in cas admits the other namespace's CA.
    const grant: ReferenceGrant = { metadata: { namespace: 'cas', name: 'edge-cas' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'edge' }], to: [{ group: '', kind: 'ConfigMap' }] } };
    expect(conditions(outcome(inputs([gw], { referenceGrants: [grant] })), 'grant')).toEqual(['True/Accepted', 'True/ResolvedRefs', 'True/Programmed']);
    expect(listenerOf(translateIngress(inputs([gw], { referenceGrants: [grant] }), { gateway: null }), 'ingress:6443').tls!.clientValidation).toEqual({ caSecrets: ['ca:cas/shared'], mode: 'require' });
  });

  it('two Gateways sharing a port must validate alike there; the one that differs is not served on that port, and the problem says so', () => {
    const validating = gateway([httpsOn('https', 443)], { frontend: { default: { validation: { caCertificateRefs: [caRef('ca-a')] } } } }, 'a-validating');
    const open: Gateway = { metadata: { namespace: 'edge', name: 'b-open', generation: 1 }, spec: { gatewayClassName: 'skein', listeners: [httpsOn('https', 443, 'open.example.com')] } };
    const t = translateIngress(inputs([validating, open]), { gateway: null });
    expect(listenerOf(t, 'ingress:443').tls!.clientValidation).toEqual({ caSecrets: ['ca:edge/ca-a'], mode: 'require' });
    expect(listenerOf(t, 'ingress:443').tls!.listenerHostnames).toEqual(['*']);
    expect(t.problems.map((p) => p.message).join('\n')).toContain('validates client certificates otherwise for Gateway edge/a-validating');
    // An ingress for the open Gateway alone serves it.
    expect(listenerOf(translateIngress(inputs([validating, open]), { gateway: 'edge/b-open' }), 'ingress:443').tls!.clientValidation).toBeUndefined();
  });
});
