// Status of AuthorizationPolicies and MeshTLSPolicies: Accepted (Invalid, TargetNotFound) and Conflicted, written only when
// they differ from what the object holds.
import { describe, expect, it } from 'vitest';
import type { AuthorizationPolicy } from '../../api/crd/authorization-policy.ts';
import type { MeshTLSPolicy } from '../../api/crd/mesh-tls-policy.ts';
import type { MeshInputs } from '../translation/mesh-inputs.ts';
import { inboundPolicyStatusUpdates } from './inbound-policy-status.ts';

const DEFAULTS = { trustDomain: 'cluster.local', meshNamespace: 'skein-system', authorizationDefault: 'allow', mtlsMode: 'permissive' } as const;
const NOW = Date.parse('2026-12-06T10:00:00Z');

const inputs = (a: AuthorizationPolicy[], t: MeshTLSPolicy[]): MeshInputs => ({ services: [], endpointSlices: [], namespaces: [], trafficPolicies: [], authorizationPolicies: a, meshTlsPolicies: t, pods: [] });

describe('inbound policy status', () => {
  it('writes Accepted / Invalid / TargetNotFound and Conflicted, then nothing once the objects hold it', () => {
    const ok: AuthorizationPolicy = { apiVersion: 'skein.dev/v1alpha1', kind: 'AuthorizationPolicy', metadata: { namespace: 'demo', name: 'ok', generation: 3 }, spec: { rules: [] } };
    const missing: AuthorizationPolicy = { ...ok, metadata: { namespace: 'demo', name: 'missing', generation: 1 }, spec: { targetRef: { kind: 'Service', name: 'nope' } } };
    const a: MeshTLSPolicy = { apiVersion: 'skein.dev/v1alpha1', kind: 'MeshTLSPolicy', metadata: { namespace: 'demo', name: 'a', generation: 1, creationTimestamp: '2026-12-01T00:00:00Z' }, spec: { mode: 'Strict' } };
    const b: MeshTLSPolicy = { ...a, metadata: { namespace: 'demo', name: 'b', generation: 1, creationTimestamp: '2026-12-02T00:00:00Z' }, spec: { mode: 'Permissive' } };
    const updates = inboundPolicyStatusUpdates(inputs([ok, missing], [a, b]), NOW, DEFAULTS);
    const by = new Map(updates.map((u) => [`${u.plural}/${u.name}`, u.status as { observedGeneration: number; conditions: { type: string; status: string; reason: string; message: string }[] }]));
    expect([...by.keys()].sort()).toEqual(['authorizationpolicies/missing', 'authorizationpolicies/ok', 'meshtlspolicies/a', 'meshtlspolicies/b']);
    expect(by.get('authorizationpolicies/ok')!.observedGeneration).toBe(3);
    expect(by.get('authorizationpolicies/ok')!.conditions).toEqual([{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'the policy is in force', observedGeneration: 3, lastTransitionTime: '2026-12-06T10:00:00Z' }]);
    expect(by.get('authorizationpolicies/missing')!.conditions[0]).toMatchObject({ status: 'False', reason: 'TargetNotFound' });
    expect(by.get('meshtlspolicies/b')!.conditions.find((c) => c.type === 'Conflicted')).toMatchObject({ status: 'True', reason: 'Conflicted', message: expect.stringMatching(/^mode set by demo\/a/) });
    expect(by.get('meshtlspolicies/a')!.conditions.find((c) => c.type === 'Conflicted')).toMatchObject({ status: 'False' });
    // The objects as the writer left them: a later pass writes nothing.
    const written = (x: AuthorizationPolicy | MeshTLSPolicy, plural: string) => ({ ...x, status: updates.find((u) => u.plural === plural && u.name === x.metadata.name)!.status });
    const again = inboundPolicyStatusUpdates(
      inputs([written(ok, 'authorizationpolicies'), written(missing, 'authorizationpolicies')] as AuthorizationPolicy[], [written(a, 'meshtlspolicies'), written(b, 'meshtlspolicies')] as MeshTLSPolicy[]),
      NOW + 60_000,
      DEFAULTS,
    );
    expect(again).toEqual([]);
  });
});
