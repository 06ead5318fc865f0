// What status the mesh's objects should carry, from the inputs alone (pure): one update per object whose status differs
// from what it holds, so that a pass over unchanged inputs writes nothing.
import type { TrafficPolicy, TrafficPolicyStatus } from '../../api/crd/traffic-policy.ts';
import { TRAFFIC_POLICY_GROUP, TRAFFIC_POLICY_PLURAL, TRAFFIC_POLICY_VERSION } from '../../api/crd/traffic-policy.ts';
import type { MeshInputs } from '../translation/mesh-inputs.ts';
import { resolveTrafficPolicies } from '../translation/traffic-policy-resolution.ts';
import { rfc3339, sameConditions, withTransitionTimes, type Condition } from './status-conditions.ts';

/** One status subresource write: the object as read (its resourceVersion guards the write) and its new status. */
export interface StatusUpdate {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespace: string;
  readonly name: string;
  /** The object as the informer holds it (status replaced by the writer). */
  readonly object: Readonly<Record<string, unknown>>;
  readonly status: Readonly<Record<string, unknown>>;
}

export function trafficPolicyStatusUpdates(inputs: MeshInputs, nowMs: number): StatusUpdate[] {
  const now = rfc3339(nowMs);
  const resolved = resolveTrafficPolicies(inputs.trafficPolicies, inputs.services);
  const byId = new Map<string, TrafficPolicy>(inputs.trafficPolicies.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  const updates: StatusUpdate[] = [];
  for (const o of resolved.outcomes) {
    const obj = byId.get(`${o.namespace}/${o.name}`);
    if (!obj) continue;
    const current = obj.status as TrafficPolicyStatus | undefined;
    const conditions = withTransitionTimes(
      [
        { type: 'Accepted', ...o.accepted, observedGeneration: o.generation },
        { type: 'Conflicted', ...o.conflicted, observedGeneration: o.generation },
      ],
      current?.conditions as readonly Condition[] | undefined,
      now,
    );
    if (current?.observedGeneration === o.generation && sameConditions(current.conditions as readonly Condition[] | undefined, conditions)) continue;
    updates.push({
      group: TRAFFIC_POLICY_GROUP,
      version: TRAFFIC_POLICY_VERSION,
      plural: TRAFFIC_POLICY_PLURAL,
      namespace: o.namespace,
      name: o.name,
      object: obj as unknown as Record<string, unknown>,
      status: { observedGeneration: o.generation, conditions },
    });
  }
  return updates;
}
