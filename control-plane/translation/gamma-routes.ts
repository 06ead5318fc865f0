// GAMMA: Gateway API HTTPRoutes and GRPCRoutes whose parentRef is a Service, translated (pure) into the proxy's routes for
// that Service port, in Gateway API precedence order, and each route's outcome per parentRef (Accepted, ResolvedRefs).
//
// A route in the Service's own namespace is a producer route: it applies to every caller. A route in another namespace is
// a consumer route: it applies only to callers in its own namespace, and for them it replaces the producer routes.
import type { V1Service } from '@kubernetes/client-node';
import type { RouteConfig } from '../../api/config/proxy-config.ts';
import type { GRPCRoute, HTTPRoute, ParentReference } from '../../api/crd/gateway-api.ts';
import { compareRanked, compileRouteRules, serviceBackendResolver, type BackendPort, type RankedRoute, type RefProblem, type RouteKind } from './route-rules.ts';

export type { BackendPort };
import type { ConditionOutcome } from './traffic-policy-resolution.ts';
import { portKey } from './traffic-policy-resolution.ts';

export type { RouteKind };

export interface ParentOutcome {
  readonly parentRef: ParentReference;
  readonly accepted: ConditionOutcome;
  readonly resolvedRefs: ConditionOutcome;
}

export interface RouteOutcome {
  readonly kind: RouteKind;
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly parents: readonly ParentOutcome[];
}

export interface ResolvedGamma {
  /** The routes a caller in `clientNamespace` uses for a Service port, or null: none attach (the default route applies). */
  routesFor(clientNamespace: string, svcNamespace: string, svcName: string, port: number): readonly RouteConfig[] | null;
  readonly backends: readonly BackendPort[];
  readonly outcomes: readonly RouteOutcome[];
}

export function resolveGammaRoutes(httpRoutes: readonly HTTPRoute[], grpcRoutes: readonly GRPCRoute[], services: readonly V1Service[]): ResolvedGamma {
  const svcByKey = new Map<string, V1Service>();
  for (const s of services) svcByKey.set(`${s.metadata?.namespace}/${s.metadata?.name}`, s);
  /** portKey -> audience ('' = producer, else the consumer namespace) -> ranked routes. */
  const buckets = new Map<string, Map<string, RankedRoute[]>>();
  const backends = new Map<string, BackendPort>();
  const outcomes: RouteOutcome[] = [];

  const all: { kind: RouteKind; r: HTTPRoute | GRPCRoute }[] = [
    ...httpRoutes.map((r) => ({ kind: 'HTTPRoute' as const, r })),
    ...grpcRoutes.map((r) => ({ kind: 'GRPCRoute' as const, r })),
  ].sort((a, b) => `${a.kind}/${a.r.metadata?.namespace}/${a.r.metadata?.name}`.localeCompare(`${b.kind}/${b.r.metadata?.namespace}/${b.r.metadata?.name}`));

  for (const { kind, r } of all) {
    const ns = r.metadata?.namespace ?? '';
    const name = r.metadata?.name ?? '';
    const generation = r.metadata?.generation ?? 0;
    const serviceParents = (r.spec?.parentRefs ?? []).filter((p) => p.kind === 'Service' && (p.group ?? '') === '');
    if (serviceParents.length === 0) continue; // a Gateway's route: the ingress issue's

    // Backends first: they decide ResolvedRefs for every parent.
    const refProblems: RefProblem[] = [];
    const resolve = serviceBackendResolver(ns, svcByKey, refProblems, (b) => backends.set(portKey(b.namespace, b.name, b.port), b), (bns, name) =>
      // GAMMA consumer routes: a route in another namespace may send to the very Service it attaches to (its parentRef)
      // without a ReferenceGrant; any other Service of another namespace is refused.
      serviceParents.some((p) => (p.namespace ?? ns) === bns && p.name === name) ? null : 'cross-namespace references are not permitted (ReferenceGrant is not supported in the mesh)',
    );

    const compiled = compileRouteRules(kind, r, { resolve, cors: false });

    const resolvedRefs: ConditionOutcome =
      refProblems.length === 0
        ? { status: 'True', reason: 'ResolvedRefs', message: 'every reference resolves' }
        : { status: 'False', reason: refProblems[0]!.reason, message: refProblems.map((p) => p.message).join('; ') };
    const parents: ParentOutcome[] = [];
    for (const parent of serviceParents) {
      const pns = parent.namespace ?? ns;
      const svc = svcByKey.get(`${pns}/${parent.name}`);
      const ports = (svc?.spec?.ports ?? []).map((p) => p.port).filter((p) => parent.port === undefined || p === parent.port);
      if (!svc || ports.length === 0) {
        parents.push({
          parentRef: parent,
          accepted: { status: 'False', reason: 'NoMatchingParent', message: !svc ? `Service ${pns}/${parent.name} not found` : `Service ${pns}/${parent.name} has no port ${parent.port}` },
          resolvedRefs,
        });
        continue;
      }
      parents.push({ parentRef: parent, accepted: { status: 'True', reason: 'Accepted', message: 'the route is in force for this Service' }, resolvedRefs });
      const audience = pns === ns ? '' : ns;
      for (const port of ports) {
        const key = portKey(pns, parent.name, port);
        let byAudience = buckets.get(key);
        if (!byAudience) buckets.set(key, (byAudience = new Map()));
        let list = byAudience.get(audience);
        if (!list) byAudience.set(audience, (list = []));
        list.push(...compiled);
      }
    }
    outcomes.push({ kind, namespace: ns, name, generation, parents });
  }

  const sorted = new Map<string, Map<string, readonly RouteConfig[]>>();
  for (const [key, byAudience] of buckets) {
    const m = new Map<string, readonly RouteConfig[]>();
    for (const [aud, list] of byAudience) m.set(aud, [...list].sort(compareRanked).map((x) => x.route));
    sorted.set(key, m);
  }
  return {
    routesFor(clientNamespace, svcNamespace, svcName, port) {
      const m = sorted.get(portKey(svcNamespace, svcName, port));
      if (!m) return null;
      return m.get(clientNamespace) ?? m.get('') ?? null;
    },
    backends: [...backends.values()],
    outcomes,
  };
}
