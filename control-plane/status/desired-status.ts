// What status the mesh's objects should carry, from the inputs alone (pure): one update per object whose status differs
// from what it holds, so that a pass over unchanged inputs writes nothing.
import type { TrafficPolicy, TrafficPolicyStatus } from '../../api/crd/traffic-policy.ts';
import { TRAFFIC_POLICY_GROUP, TRAFFIC_POLICY_PLURAL, TRAFFIC_POLICY_VERSION } from '../../api/crd/traffic-policy.ts';
import {
  GATEWAY_API_GROUP,
  GATEWAY_API_VERSION,
  SKEIN_CONTROLLER_NAME,
  type Gateway,
  type GatewayClass,
  type ListenerStatus,
  type ParentReference,
  type PolicyAncestorStatus,
  type RouteParentStatus,
  type RouteStatus,
} from '../../api/crd/gateway-api.ts';
import { GATEWAY_SUPPORTED_FEATURES } from '../../api/crd/gateway-support.ts';
import { resolveBackendTlsPolicies } from '../translation/backend-tls-policy.ts';
import { resolveGammaRoutes, type ParentOutcome } from '../translation/gamma-routes.ts';
import { clusterName } from '../translation/mesh-inputs.ts';
import { resolveGateways, type GatewayOutcome } from '../translation/gateway-resolution.ts';
import { gatewayServiceChanges, type ServiceChange } from '../translation/gateway-services.ts';
import { gatewayInputsOf } from '../translation/translate-ingress.ts';
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
 * Routes: one `parents[]` entry per Service parentRef (GAMMA) and per Gateway parentRef of a Skein Gateway, with Accepted and ResolvedRefs, under Skein's controllerName;
 * other controllers' entries (a Gateway implementation's) are kept as they are.
 */
export function routeStatusUpdates(inputs: MeshInputs, nowMs: number): StatusUpdate[] {
  const now = rfc3339(nowMs);
  const http = inputs.httpRoutes ?? [];
  const grpc = inputs.grpcRoutes ?? [];
  const resolved = resolveGammaRoutes(http, grpc, inputs.services);
  // A route's parents: its Service parents (GAMMA) and its Gateway parents (the ingress), each with its outcome.
  const outcomeOf = new Map<string, { generation: number; parents: ParentOutcome[] }>();
  const add = (o: { kind: string; namespace: string; name: string; generation: number; parents: readonly ParentOutcome[] }): void => {
    const k = `${o.kind}/${o.namespace}/${o.name}`;
    const cur = outcomeOf.get(k);
    if (cur) cur.parents.push(...o.parents);
    else outcomeOf.set(k, { generation: o.generation, parents: [...o.parents] });
  };
  for (const o of resolved.outcomes) add(o);
  if ((inputs.gateways ?? []).length > 0) for (const o of resolveGateways(gatewayInputsOf(inputs)).routes) add(o);
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

const featureList = GATEWAY_SUPPORTED_FEATURES.map((name) => ({ name }));

/** GatewayClasses naming Skein's controller: Accepted, and the features Skein supports. */
export function gatewayClassStatusUpdates(inputs: MeshInputs, nowMs: number): StatusUpdate[] {
  const now = rfc3339(nowMs);
  const updates: StatusUpdate[] = [];
  const resolved = resolveGateways(gatewayInputsOf({ ...inputs, ingresses: [] }));
  const byName = new Map<string, GatewayClass>((inputs.gatewayClasses ?? []).map((c) => [c.metadata.name, c]));
  for (const o of resolved.classes) {
    const obj = byName.get(o.name);
    if (!obj) continue;
    const conditions = withTransitionTimes([{ type: 'Accepted', ...o.accepted, observedGeneration: o.generation }], obj.status?.conditions as readonly Condition[] | undefined, now);
    const same = sameConditions(obj.status?.conditions as readonly Condition[] | undefined, conditions) && JSON.stringify(obj.status?.supportedFeatures ?? []) === JSON.stringify(featureList);
    if (same) continue;
    updates.push({ group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, plural: 'gatewayclasses', namespace: '', name: o.name, object: obj as unknown as Record<string, unknown>, status: { ...(obj.status ?? {}), conditions, supportedFeatures: featureList } });
  }
  return updates;
}

/** The per-Gateway Services to create, replace or delete (gateway-services.ts); none unless the shared Service asks. */
export function gatewayServiceUpdates(inputs: MeshInputs): ServiceChange[] {
  return gatewayServiceChanges(inputs.services, resolveGateways(gatewayInputsOf({ ...inputs, ingresses: [] })));
}

function listenerStatus(l: GatewayOutcome['listeners'][number], generation: number, prev: ListenerStatus | undefined, now: string): ListenerStatus {
  return {
    name: l.name,
    supportedKinds: l.supportedKinds.map((k) => ({ group: k.group, kind: k.kind })),
    attachedRoutes: l.routes.length,
    conditions: withTransitionTimes(
      [
        { type: 'Accepted', ...l.accepted, observedGeneration: generation },
        { type: 'ResolvedRefs', ...l.resolvedRefs, observedGeneration: generation },
        { type: 'Conflicted', ...l.conflicted, observedGeneration: generation },
        { type: 'Programmed', ...l.programmed, observedGeneration: generation },
      ],
      prev?.conditions as readonly Condition[] | undefined,
      now,
    ),
  };
}

/** Gateways of Skein's classes: Accepted, Programmed, addresses, and each listener's conditions and attached routes. */
export function gatewayStatusUpdates(inputs: MeshInputs, nowMs: number): StatusUpdate[] {
  const now = rfc3339(nowMs);
  if ((inputs.gateways ?? []).length === 0) return [];
  const resolved = resolveGateways(gatewayInputsOf({ ...inputs, ingresses: [] }));
  const byKey = new Map<string, Gateway>((inputs.gateways ?? []).map((g) => [`${g.metadata.namespace}/${g.metadata.name}`, g]));
  const updates: StatusUpdate[] = [];
  for (const o of resolved.gateways) {
    const obj = byKey.get(`${o.namespace}/${o.name}`);
    if (!obj) continue;
    const cur = obj.status;
    const conditions = withTransitionTimes(
      [
        { type: 'Accepted', ...o.accepted, observedGeneration: o.generation },
        { type: 'Programmed', ...o.programmed, observedGeneration: o.generation },
        // Present only while a frontend validation allows insecure fallback (removed once it no longer does).
        ...(o.insecureFrontend !== null ? [{ type: 'InsecureFrontendValidationMode', ...o.insecureFrontend, observedGeneration: o.generation }] : []),
        // Present only while spec.tls.backend names a client certificate (the one Gateway-level reference there is).
        ...(o.resolvedRefs !== null ? [{ type: 'ResolvedRefs', ...o.resolvedRefs, observedGeneration: o.generation }] : []),
      ],
      cur?.conditions as readonly Condition[] | undefined,
      now,
    );
    const listeners = o.listeners.map((l) => listenerStatus(l, o.generation, cur?.listeners?.find((x) => x.name === l.name), now));
    const sameListeners =
      (cur?.listeners ?? []).length === listeners.length &&
      listeners.every((l) => {
        const c = cur?.listeners?.find((x) => x.name === l.name);
        return c !== undefined && c.attachedRoutes === l.attachedRoutes && JSON.stringify(c.supportedKinds) === JSON.stringify(l.supportedKinds) && sameConditions(c.conditions as readonly Condition[], l.conditions as readonly Condition[]);
      });
    const sameAddresses = JSON.stringify(cur?.addresses ?? []) === JSON.stringify(o.addresses);
    if (sameListeners && sameAddresses && sameConditions(cur?.conditions as readonly Condition[] | undefined, conditions)) continue;
    updates.push({
      group: GATEWAY_API_GROUP,
      version: GATEWAY_API_VERSION,
      plural: 'gateways',
      namespace: o.namespace,
      name: o.name,
      object: obj as unknown as Record<string, unknown>,
      status: { ...(cur ?? {}), addresses: o.addresses, conditions, listeners },
    });
  }
  return updates;
}

/**
 * BackendTLSPolicies: one `ancestors[]` entry per Skein Gateway whose routes send to a Service the policy targets, with
 * Accepted and ResolvedRefs (the policy's own outcome); other controllers' entries are kept as they are. A policy no
 * Skein Gateway reaches has no entry of ours.
 */
export function backendTlsPolicyStatusUpdates(inputs: MeshInputs, nowMs: number): StatusUpdate[] {
  const policies = inputs.backendTlsPolicies ?? [];
  if (policies.length === 0) return [];
  const now = rfc3339(nowMs);
  const resolved = resolveGateways(gatewayInputsOf({ ...inputs, ingresses: [] }));
  const serviceOfCluster = new Map(resolved.backends.map((b) => [clusterName(b.namespace, b.name, b.port), `${b.namespace}/${b.name}`]));
  /** `ns/svc` -> the Gateways (namespace/name) whose attached routes send to it. */
  const gatewaysOf = new Map<string, Set<string>>();
  for (const g of resolved.gateways)
    for (const l of g.listeners)
      for (const r of l.routes)
        for (const rule of r.rules)
          for (const b of [...rule.route.backends, ...rule.route.mirrors]) {
            const svc = serviceOfCluster.get(b.cluster);
            if (svc === undefined) continue;
            let set = gatewaysOf.get(svc);
            if (!set) gatewaysOf.set(svc, (set = new Set()));
            set.add(`${g.namespace}/${g.name}`);
          }
  const outcomes = resolveBackendTlsPolicies(policies, inputs.services, inputs.configMaps ?? []).outcomes;
  const byId = new Map(policies.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  const updates: StatusUpdate[] = [];
  for (const o of outcomes) {
    const obj = byId.get(`${o.namespace}/${o.name}`);
    if (!obj) continue;
    const current = obj.status?.ancestors ?? [];
    const ours = current.filter((a) => a.controllerName === SKEIN_CONTROLLER_NAME);
    const gateways = [...new Set(o.services.flatMap((s) => [...(gatewaysOf.get(s) ?? [])]))].sort();
    const desired: PolicyAncestorStatus[] = gateways.map((gw) => {
      const [gns, gname] = gw.split('/') as [string, string];
      const ancestorRef: ParentReference = { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: gns, name: gname };
      const prev = ours.find((a) => parentKey(a.ancestorRef, o.namespace) === parentKey(ancestorRef, o.namespace));
      return {
        ancestorRef,
        controllerName: SKEIN_CONTROLLER_NAME,
        conditions: withTransitionTimes(
          [
            { type: 'Accepted', ...o.accepted, observedGeneration: o.generation },
            { type: 'ResolvedRefs', ...o.resolvedRefs, observedGeneration: o.generation },
          ],
          prev?.conditions as readonly Condition[] | undefined,
          now,
        ),
      };
    });
    const same =
      desired.length === ours.length &&
      desired.every((d) => {
        const c = ours.find((x) => parentKey(x.ancestorRef, o.namespace) === parentKey(d.ancestorRef, o.namespace));
        return c !== undefined && sameConditions(c.conditions as readonly Condition[], d.conditions as readonly Condition[]);
      });
    if (same) continue;
    updates.push({
      group: GATEWAY_API_GROUP,
      version: GATEWAY_API_VERSION,
      plural: 'backendtlspolicies',
      namespace: o.namespace,
      name: o.name,
      object: obj as unknown as Record<string, unknown>,
      status: { ...(obj.status ?? {}), ancestors: [...current.filter((a) => a.controllerName !== SKEIN_CONTROLLER_NAME), ...desired] },
    });
  }
  return updates;
}
