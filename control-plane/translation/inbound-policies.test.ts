// Inbound translation: which AuthorizationPolicies select a workload (labels, a Service, a ServiceAccount, the namespace),
// the authorization default and deny-when-selected, invalid policies failing closed, the mTLS mode field by field from the
// workload, namespace and mesh levels, conflicts between policies of one level, and the listener resource per sidecar.
import type { V1Namespace, V1Pod, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { AuthorizationPolicy, AuthorizationPolicySpec } from '../../api/crd/authorization-policy.ts';
import type { MeshTLSPolicy, MeshTLSPolicySpec } from '../../api/crd/mesh-tls-policy.ts';
import { MESH_IDENTITY_ANNOTATION } from '../../api/mesh/mesh-constants.ts';
import { AUTHORIZATION_DEFAULT_ANNOTATION, InboundPolicies, type InboundDefaults } from './inbound-policies.ts';
import type { MeshInputs } from './mesh-inputs.ts';
import { MeshTranslator } from './mesh-translator.ts';

const DEFAULTS: InboundDefaults = { trustDomain: 'cluster.local', meshNamespace: 'skein-system', authorizationDefault: 'allow', mtlsMode: 'permissive' };

const pod = (ns: string, name: string, labels: Record<string, string>, sa = 'default', identity = true): V1Pod => ({
  metadata: { namespace: ns, name, labels, annotations: identity ? { [MESH_IDENTITY_ANNOTATION]: 'enabled' } : {} },
  spec: { serviceAccountName: sa, containers: [] },
});
const authz = (ns: string, name: string, spec: AuthorizationPolicySpec, created = '2026-12-01T00:00:00Z'): AuthorizationPolicy => ({
  apiVersion: 'skein.dev/v1alpha1',
  kind: 'AuthorizationPolicy',
  metadata: { namespace: ns, name, generation: 1, creationTimestamp: created },
  spec,
});
const tls = (ns: string, name: string, spec: MeshTLSPolicySpec, created = '2026-12-01T00:00:00Z'): MeshTLSPolicy => ({
  apiVersion: 'skein.dev/v1alpha1',
  kind: 'MeshTLSPolicy',
  metadata: { namespace: ns, name, generation: 2, creationTimestamp: created },
  spec,
});
const svc = (ns: string, name: string, selector?: Record<string, string>): V1Service => ({ metadata: { namespace: ns, name }, spec: { ...(selector ? { selector } : {}), ports: [{ port: 80 }] } });

function resolve(o: { authz?: AuthorizationPolicy[]; tls?: MeshTLSPolicy[]; services?: V1Service[]; namespaces?: V1Namespace[]; pods?: V1Pod[] }, defaults = DEFAULTS): InboundPolicies {
  return new InboundPolicies({ authorizationPolicies: o.authz ?? [], meshTlsPolicies: o.tls ?? [], services: o.services ?? [], namespaces: o.namespaces ?? [], pods: o.pods ?? [] }, defaults);
}

const WEB_ONLY: AuthorizationPolicySpec = { rules: [{ from: [{ serviceAccounts: [{ name: 'web' }] }] }] };
const echo = pod('demo', 'echo-1', { app: 'echo' }, 'echo');
const other = pod('demo', 'other-1', { app: 'other' }, 'other');

describe('authorization per workload', () => {
  it('no policy and default allow: no authorization layer at all; default deny (flag or namespace annotation): deny', () => {
    expect(resolve({}).forPod(echo).authorization).toBeNull();
    expect(resolve({}, { ...DEFAULTS, authorizationDefault: 'deny' }).forPod(echo).authorization).toEqual({ defaultAction: 'deny', policies: [] });
    const ns = (name: string, v: string): V1Namespace => ({ metadata: { name, annotations: { [AUTHORIZATION_DEFAULT_ANNOTATION]: v } } });
    const r = resolve({ namespaces: [ns('demo', 'deny'), ns('open', 'allow'), ns('odd', 'maybe')] }, { ...DEFAULTS, authorizationDefault: 'allow' });
    expect(r.forPod(echo).authorization).toEqual({ defaultAction: 'deny', policies: [] });
    expect(resolve({ namespaces: [ns('demo', 'allow')] }, { ...DEFAULTS, authorizationDefault: 'deny' }).forPod(echo).authorization).toBeNull();
    expect(r.problems).toEqual([{ object: 'Namespace odd', message: `${AUTHORIZATION_DEFAULT_ANNOTATION}: must be allow or deny (the default applies)` }]);
  });

  it('selects by labels, by a Service, by a ServiceAccount and the whole namespace; ServiceAccounts become SPIFFE ids', () => {
    const r = resolve({
      services: [svc('demo', 'echo', { app: 'echo' })],
      authz: [
        authz('demo', 'by-labels', { selector: { matchLabels: { app: 'echo' } }, ...WEB_ONLY }),
        authz('demo', 'by-service', { targetRef: { kind: 'Service', name: 'echo' }, ...WEB_ONLY }),
        authz('demo', 'by-sa', { targetRef: { kind: 'ServiceAccount', name: 'echo' }, ...WEB_ONLY }),
        authz('demo', 'whole-ns', { rules: [{ from: [{ namespaces: ['ops'] }] }] }),
        authz('elsewhere', 'not-ours', WEB_ONLY),
      ],
    });
    const a = r.forPod(echo).authorization!;
    expect(a.defaultAction).toBe('allow');
    expect(a.policies.map((p) => p.name)).toEqual(['demo/by-labels', 'demo/by-sa', 'demo/by-service', 'demo/whole-ns']);
    expect(a.policies[0]!.rules).toEqual([{ from: [{ identities: ['spiffe://cluster.local/ns/demo/sa/web'], namespaces: [], unauthenticated: false }], to: [] }]);
    expect(r.forPod(other).authorization!.policies.map((p) => p.name)).toEqual(['demo/whole-ns']);
    expect(r.outcomes.every((o) => o.accepted.status === 'True')).toBe(true);
  });

  it('a policy with no rules denies everything to what it selects (deny when selected)', () => {
    const r = resolve({ authz: [authz('demo', 'lockdown', { selector: { matchLabels: { app: 'echo' } } })] });
    expect(r.forPod(echo).authorization).toEqual({ defaultAction: 'allow', policies: [{ name: 'demo/lockdown', rules: [] }] });
    expect(r.forPod(other).authorization).toBeNull();
  });

  it('an invalid policy still selects its workloads but allows nothing (fail closed), with every problem in its status', () => {
    const bad = authz('demo', 'bad', {
      selector: { matchLabels: { app: 'echo' } },
      rules: [
        { from: [{}], to: [{ paths: [{ type: 'PathPrefix', value: '/a/../b' }] }] },
        { from: [{ unauthenticated: true, namespaces: ['x'] }, { identities: ['spiffe://cluster.local/ns/*/sa/web'] }], to: [{ methods: ['get'] }, {}] },
      ],
    });
    const r = resolve({ authz: [bad] });
    expect(r.forPod(echo).authorization).toEqual({ defaultAction: 'allow', policies: [{ name: 'demo/bad', rules: [] }] });
    const o = r.outcomes.find((x) => x.name === 'bad')!;
    expect(o.accepted.status).toBe('False');
    expect(o.accepted.reason).toBe('Invalid');
    for (const bit of [
      'spec.rules[0].from[0]: a source names',
      'spec.rules[0].to[0].paths[0].value: must be canonical (dot segment)',
      'spec.rules[1].from[0]: unauthenticated callers have no identity',
      'spec.rules[1].from[1].identities[0]: must be spiffe://',
      'spec.rules[1].to[0].methods[0]: must be an upper-case method',
      'spec.rules[1].to[1]: a target names ports, paths or methods',
    ]) expect(o.accepted.message).toContain(bit);
  });

  it('selector with targetRef is invalid and selects nothing; a missing Service is TargetNotFound', () => {
    const r = resolve({
      services: [svc('demo', 'manual')],
      authz: [
        authz('demo', 'both', { selector: { matchLabels: { app: 'echo' } }, targetRef: { kind: 'Service', name: 'echo' }, ...WEB_ONLY }),
        authz('demo', 'missing', { targetRef: { kind: 'Service', name: 'nope' }, ...WEB_ONLY }),
        authz('demo', 'no-selector', { targetRef: { kind: 'Service', name: 'manual' }, ...WEB_ONLY }),
        authz('demo', 'kind', { targetRef: { kind: 'Deployment' as 'Service', name: 'echo' }, ...WEB_ONLY }),
      ],
    });
    expect(r.forPod(echo).authorization).toBeNull();
    const reason = (n: string) => r.outcomes.find((o) => o.name === n)!.accepted;
    expect(reason('both')).toMatchObject({ status: 'False', reason: 'Invalid', message: 'spec: selector and targetRef cannot both be set' });
    expect(reason('missing')).toMatchObject({ status: 'False', reason: 'TargetNotFound', message: 'Service demo/nope not found' });
    expect(reason('no-selector')).toMatchObject({ status: 'False', reason: 'TargetNotFound' });
    expect(reason('kind')).toMatchObject({ status: 'False', reason: 'Invalid' });
  });
});

describe('mTLS mode per workload', () => {
  it('the control plane default without policies; only pods with a mesh identity get mTLS', () => {
    expect(resolve({}).forPod(echo).mtls).toEqual({ mode: 'permissive', ports: [] });
    expect(resolve({}, { ...DEFAULTS, mtlsMode: 'strict' }).forPod(echo).mtls).toEqual({ mode: 'strict', ports: [] });
    expect(resolve({}).forPod(pod('demo', 'old', {}, 'default', false)).mtls).toBeNull();
  });

  it('strict for a pod without identity is kept (it refuses every caller) and said', () => {
    const w = resolve({ tls: [tls('demo', 'strict', { mode: 'Strict' })] }).forPod(pod('demo', 'old', {}, 'default', false));
    expect(w.mtls).toEqual({ mode: 'strict', ports: [] });
    expect(w.problems[0]).toMatch(/no mesh identity/);
  });

  it('workload over namespace over mesh, field by field: a workload policy naming one port keeps the namespace mode', () => {
    const r = resolve({
      tls: [
        tls('skein-system', 'mesh', { mode: 'Strict', ports: [{ port: 9000, mode: 'Permissive' }] }),
        tls('demo', 'ns', { mode: 'Permissive' }),
        tls('demo', 'echo-metrics', { selector: { matchLabels: { app: 'echo' } }, ports: [{ port: 8080, mode: 'Strict' }] }),
      ],
    });
    expect(r.forPod(echo).mtls).toEqual({ mode: 'permissive', ports: [{ port: 8080, mode: 'strict' }, { port: 9000, mode: 'permissive' }] });
    expect(r.forPod(other).mtls).toEqual({ mode: 'permissive', ports: [{ port: 9000, mode: 'permissive' }] });
    expect(r.forPod(pod('prod', 'x', {})).mtls).toEqual({ mode: 'strict', ports: [{ port: 9000, mode: 'permissive' }] });
  });

  it('two policies of one level setting one field: the older wins, the other is Conflicted naming it; different fields merge', () => {
    const r = resolve({
      pods: [echo, other],
      tls: [
        tls('demo', 'a-newer', { selector: { matchLabels: { app: 'echo' } }, mode: 'Permissive', ports: [{ port: 7000, mode: 'Strict' }] }, '2026-12-02T00:00:00Z'),
        tls('demo', 'b-older', { targetRef: { kind: 'ServiceAccount', name: 'echo' }, mode: 'Strict' }, '2026-12-01T00:00:00Z'),
        tls('demo', 'ns-1', { mode: 'Strict' }),
        tls('demo', 'ns-2', { mode: 'Permissive' }),
        tls('demo', 'unrelated', { selector: { matchLabels: { app: 'other' } }, mode: 'Strict' }, '2026-11-01T00:00:00Z'),
      ],
    });
    expect(r.forPod(echo).mtls).toEqual({ mode: 'strict', ports: [{ port: 7000, mode: 'strict' }] });
    const o = (n: string) => r.outcomes.find((x) => x.name === n)!;
    expect(o('a-newer').conflicted).toEqual({ status: 'True', reason: 'Conflicted', message: 'mode set by demo/b-older, which takes precedence (older, or same age and smaller name)' });
    expect(o('a-newer').accepted.status).toBe('True');
    expect(o('b-older').conflicted!.status).toBe('False');
    expect(o('ns-2').conflicted!.message).toMatch(/^mode set by demo\/ns-1/);
    expect(o('unrelated').conflicted!.status).toBe('False');
  });

  it('an invalid MeshTLSPolicy is left out whole (the other levels apply) and says why', () => {
    const r = resolve({
      tls: [
        tls('demo', 'ns', { mode: 'Strict' }),
        tls('demo', 'bad', { selector: { matchLabels: { app: 'echo' } }, mode: 'Lax' as 'Strict', ports: [{ port: 0, mode: 'Strict' }, { port: 80, mode: 'Strict' }, { port: 80, mode: 'Permissive' }] }),
        tls('demo', 'empty', { selector: {} }),
      ],
    });
    expect(r.forPod(echo).mtls).toEqual({ mode: 'strict', ports: [] });
    const bad = r.outcomes.find((x) => x.name === 'bad')!.accepted;
    expect(bad.reason).toBe('Invalid');
    expect(bad.message).toBe('spec.mode: must be Permissive or Strict; spec.ports[0].port: must be a port 1-65535; spec.ports[2].port: port 80 is listed twice');
    expect(r.outcomes.find((x) => x.name === 'empty')!.accepted.message).toBe('spec: names a mode or ports');
  });
});

describe('MeshTranslator: the inbound listener per sidecar', () => {
  const proxy = (podName: string, mode = 'sidecar') => ({ id: `${podName}.demo`, podName, namespace: 'demo', podIp: '', serviceAccount: 'default', mode });
  const pods = new Map([echo, other].map((p) => [p.metadata!.name!, p]));
  const inputs = (a: AuthorizationPolicy[]): MeshInputs => ({ services: [], endpointSlices: [], namespaces: [], trafficPolicies: [], authorizationPolicies: a, pods: [...pods.values()] });
  const listenerOf = (t: MeshTranslator, p: ReturnType<typeof proxy>) => {
    const s = t.snapshotFor(p);
    if (!s.ok) throw new Error('no snapshot');
    const r = s.value.resources.get('listener/inbound');
    return r === undefined ? undefined : (JSON.parse(Buffer.from(r.body).toString('utf8')) as Record<string, unknown>);
  };

  it('carries each workload its own authorization over the bootstrap socket; one outbound translation per scope; none for unknown pods or ingress', () => {
    const t = new MeshTranslator((p) => ({ namespace: p.namespace, outboundNamespaces: null }), null, { podOf: (p) => pods.get(p.podName), defaults: DEFAULTS });
    t.setInputs(inputs([authz('demo', 'echo-web', { selector: { matchLabels: { app: 'echo' } }, ...WEB_ONLY })]));
    const e = listenerOf(t, proxy('echo-1'))!;
    expect(e).toEqual({
      name: 'inbound',
      address: '0.0.0.0',
      port: 15006,
      direction: 'inbound',
      protocol: 'detect',
      tcpCluster: 'inbound-app',
      routeTable: 'inbound',
      mtls: { mode: 'permissive', ports: [] },
      authorization: { defaultAction: 'allow', policies: [{ name: 'demo/echo-web', rules: [{ from: [{ identities: ['spiffe://cluster.local/ns/demo/sa/web'], namespaces: [], unauthenticated: false }], to: [] }] }] },
    });
    expect(listenerOf(t, proxy('other-1'))).not.toHaveProperty('authorization');
    expect(listenerOf(t, proxy('gone-1'))).toBeUndefined();
    expect(t.translations).toBe(1);
    // An ingress gets a translation of its own (the Gateways it serves), never an inbound listener.
    expect(listenerOf(t, proxy('echo-1', 'ingress'))).toBeUndefined();
    expect(t.translations).toBe(2);
    // A policy change reaches the listener (a new generation), and an invalid policy shows among the problems.
    t.setInputs(inputs([authz('demo', 'echo-web', { selector: { matchLabels: { app: 'echo' } }, rules: [{ to: [{ methods: ['get'] }] }] })]));
    expect(listenerOf(t, proxy('echo-1'))!.authorization).toEqual({ defaultAction: 'allow', policies: [{ name: 'demo/echo-web', rules: [] }] });
    expect(t.problems().map((p) => p.object)).toContain('AuthorizationPolicy demo/echo-web');
  });
});
