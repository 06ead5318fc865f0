// What status the AuthorizationPolicies and MeshTLSPolicies should carry (pure): Accepted (and, for MeshTLSPolicy,
// Conflicted), one update per object whose status differs from what it holds.
import { AUTHORIZATION_POLICY_GROUP, AUTHORIZATION_POLICY_PLURAL, AUTHORIZATION_POLICY_VERSION, type PolicyStatus } from '../../api/crd/authorization-policy.ts';
import { MESH_TLS_POLICY_PLURAL } from '../../api/crd/mesh-tls-policy.ts';
import { InboundPolicies, type InboundDefaults } from '../translation/inbound-policies.ts';
import type { MeshInputs } from '../translation/mesh-inputs.ts';
import type { StatusUpdate } from './desired-status.ts';
import { rfc3339, sameConditions, withTransitionTimes, type Condition, type DesiredCondition } from './status-conditions.ts';

export function inboundPolicyStatusUpdates(inputs: MeshInputs, nowMs: number, defaults: InboundDefaults): StatusUpdate[] {
  const now = rfc3339(nowMs);
  const resolved = new InboundPolicies(inputs, defaults);
  const objects = new Map<string, { metadata?: unknown; status?: PolicyStatus }>();
  for (const p of inputs.authorizationPolicies ?? []) objects.set(`AuthorizationPolicy/${p.metadata.namespace}/${p.metadata.name}`, p);
  for (const p of inputs.meshTlsPolicies ?? []) objects.set(`MeshTLSPolicy/${p.metadata.namespace}/${p.metadata.name}`, p);
  const updates: StatusUpdate[] = [];
  for (const o of resolved.outcomes) {
    const obj = objects.get(`${o.kind}/${o.namespace}/${o.name}`);
    if (!obj) continue;
    const desired: DesiredCondition[] = [{ type: 'Accepted', ...o.accepted, observedGeneration: o.generation }];
    if (o.conflicted) desired.push({ type: 'Conflicted', ...o.conflicted, observedGeneration: o.generation });
    const current = obj.status;
    const conditions = withTransitionTimes(desired, current?.conditions as readonly Condition[] | undefined, now);
    if (current?.observedGeneration === o.generation && sameConditions(current.conditions as readonly Condition[] | undefined, conditions)) continue;
    updates.push({
      group: AUTHORIZATION_POLICY_GROUP,
      version: AUTHORIZATION_POLICY_VERSION,
      plural: o.kind === 'AuthorizationPolicy' ? AUTHORIZATION_POLICY_PLURAL : MESH_TLS_POLICY_PLURAL,
      namespace: o.namespace,
      name: o.name,
      object: obj as unknown as Record<string, unknown>,
      status: { observedGeneration: o.generation, conditions },
    });
  }
  return updates;
}
