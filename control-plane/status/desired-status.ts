// What status the mesh's objects should carry, from the inputs alone (pure): one update per object whose status differs
// from what it holds, so that a pass over unchanged inputs writes nothing.
import type { TrafficPolicy, TrafficPolicyStatus } from '../../api/crd/traffic-policy.ts';
import { TRAFFIC_POLICY_GROUP, TRAFFIC_POLICY_PLURAL, TRAFFIC_POLICY_VERSION } from '../../api/crd/traffic-policy.ts';
import { GATEWAY_API_GROUP, GATEWAY_API_VERSION, SKEIN_CONTROLLER_NAME, type ParentReference, type RouteParentStatus, type RouteStatus } from '../../api/crd/gateway-api.ts';
import { resolveGammaRoutes, type RouteOutcome } from '../translation/gamma-routes.ts';
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

const parentKey = (p: ParentReference, ns: string): string => `${p.group ?? ''}/${p.kind ?? ''}/${p.namespace ?? ns}/${p.name}/${p.port ?? ''}/${p.sectionName ?? ''}`;

/**
 * GAMMA routes: one `parents[]` entry per Service parentRef, with Accepted and ResolvedRefs, under Skein's controllerName;
 * other controllers' entries (a Gateway implementation's) are kept as they are.
 */
export function routeStatusUpdates(inputs: MeshInputs, nowMs: number): StatusUpdate[] {
  const now = rfc3339(nowMs);
  const http = inputs.httpRoutes ?? [];
  const grpc = inputs.grpcRoutes ?? [];
  const resolved = resolveGammaRoutes(http, grpc, inputs.services);
  const outcomeOf = new Map<string, RouteOutcome>(resolved.outcomes.map((o) => [`${o.kind}/${o.namespace}/${o.name}`, o]));
  const updates: StatusUpdate[] = [];
  const all = [...http.map((r) => ({ kind: 'HTTPRoute', plural: 'httproutes', r })), ...grpc.map((r) => ({ kind: 'GRPCRoute', plural: 'grpcroutes', r }))];
  for (const { kind, plural, r } of all) {
    const ns = r.metadata.namespace ?? '';
    const outcome = outcomeOf.get(`${kind}/${ns}/${r.metadata.name}`);
    const current = (r.status as RouteStatus | undefined)?.parents ?? [];
    const ours = current.filter((p) => p.controllerName === SKEIN_CONTROLLER_NAME);
    if (!outcome && ours.length === 0) continue;
    const desired: RouteParentStatus[] = (outcome?.parents ?? []).map((p) => {
      const prev = ours.find((o) => parentKey(o.parentRef, ns) === parentKey(p.parentRef, ns));
      return {
        parentRef: p.parentRef,
        controllerName: SKEIN_CONTROLLER_NAME,
        conditions: withTransitionTimes(
          [
            { type: 'Accepted', ...p.accepted, observedGeneration: outcome!.generation },
            { type: 'ResolvedRefs', ...p.resolvedRefs, observedGeneration: outcome!.generation },
          ],
          prev?.conditions as readonly Condition[] | undefined,
          now,
        ),
      };
    });
    const same =
      desired.length === ours.length &&
      desired.every((d) => {
        const o = ours.find((x) => parentKey(x.parentRef, ns) === parentKey(d.parentRef, ns));
        return o !== undefined && sameConditions(o.conditions as readonly Condition[], d.conditions);
      });
    if (same) continue;
    updates.push({
      group: GATEWAY_API_GROUP,
      version: GATEWAY_API_VERSION,
      plural,
      namespace: ns,
      name: r.metadata.name,
      object: r as unknown as Record<string, unknown>,
      status: { ...(r.status ?? {}), parents: [...current.filter((p) => p.controllerName !== SKEIN_CONTROLLER_NAME), ...desired] },
    });
  }
  return updates;
}
