// GAMMA: Gateway API HTTPRoutes and GRPCRoutes whose parentRef is a Service, translated (pure) into the proxy's routes for
// that Service port, in Gateway API precedence order, and each route's outcome per parentRef (Accepted, ResolvedRefs).
//
// A route in the Service's own namespace is a producer route: it applies to every caller. A route in another namespace is
// a consumer route: it applies only to callers in its own namespace, and for them it replaces the producer routes.
import type { V1Service } from '@kubernetes/client-node';
import type { RequestMirrorConfig } from '../../api/config/policy-config.ts';
import type { HeaderMatchConfig, HeaderMutationConfig, PathModifierConfig, RouteConfig, RouteMatchConfig, WeightedBackendConfig } from '../../api/config/proxy-config.ts';
import type { BackendRef, GRPCRoute, HeaderModifier, HTTPPathModifier, HTTPRoute, ParentReference, RouteFilter } from '../../api/crd/gateway-api.ts';
import { parseGoDuration } from '../../api/crd/go-duration.ts';
import { DEFAULT_MIRROR_BODY_BYTES } from '../../api/config/policy-config-defaults.ts';
import { clusterName } from './mesh-inputs.ts';
import type { ConditionOutcome } from './traffic-policy-resolution.ts';
import { portKey } from './traffic-policy-resolution.ts';

export type RouteKind = 'HTTPRoute' | 'GRPCRoute';

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

/** A Service port a route sends to (backend or mirror): the translator makes sure the proxy holds its cluster. */
export interface BackendPort {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
}

export interface ResolvedGamma {
  /** The routes a caller in `clientNamespace` uses for a Service port, or null: none attach (the default route applies). */
  routesFor(clientNamespace: string, svcNamespace: string, svcName: string, port: number): readonly RouteConfig[] | null;
  readonly backends: readonly BackendPort[];
  readonly outcomes: readonly RouteOutcome[];
}

/** The policy fields a translated route starts with (TrafficPolicy fills retries, rate limit, fault, stream idle). */
type GammaRoute = RouteConfig;

interface Ranked {
  readonly route: GammaRoute;
  readonly key: readonly (number | string)[];
}

const EMPTY_MUTATION: HeaderMutationConfig = { set: {}, add: {}, remove: [] };

function mutation(m: HeaderModifier | undefined, into: HeaderMutationConfig): HeaderMutationConfig {
  if (!m) return into;
  const set: Record<string, string> = { ...into.set };
  const add: Record<string, string> = { ...into.add };
  for (const h of m.set ?? []) set[h.name.toLowerCase()] = h.value;
  for (const h of m.add ?? []) add[h.name.toLowerCase()] = h.value;
  return { set, add, remove: [...into.remove, ...(m.remove ?? []).map((h) => h.toLowerCase())] };
}

function pathModifier(p: HTTPPathModifier | undefined, match: RouteMatchConfig): PathModifierConfig | null {
  if (!p) return null;
  if (p.type === 'ReplaceFullPath') return { type: 'full', value: p.replaceFullPath ?? '/' };
  const value = p.replacePrefixMatch ?? '/';
  // ReplacePrefixMatch on an exact match replaces all of it (the prefix matched is the whole path).
  return match.path?.type === 'prefix' ? { type: 'prefix', value } : { type: 'full', value };
}

function createdAt(v: unknown): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : Number.MAX_SAFE_INTEGER;
}

function headerMatches(list: readonly { type?: string; name: string; value: string }[] | undefined): HeaderMatchConfig[] {
  return (list ?? []).map((h) => ({ name: h.name.toLowerCase(), type: h.type === 'RegularExpression' ? 'regex' : 'exact', value: h.value, invert: false }));
}

function escapeRe2(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** Gateway API precedence: exact path, then longest prefix, then method, then most headers, then most query params. */
function precedence(m: RouteMatchConfig): (number | string)[] {
  const p = m.path;
  const pathRank = p === null ? 2 : p.type === 'exact' ? 0 : p.type === 'prefix' ? 1 : 2;
  const len = p === null ? 0 : p.type === 'regex' ? 0 : p.value.length;
  return [pathRank, -len, m.methods.length > 0 ? 0 : 1, -m.headers.length, -m.query.length];
}

export function resolveGammaRoutes(httpRoutes: readonly HTTPRoute[], grpcRoutes: readonly GRPCRoute[], services: readonly V1Service[]): ResolvedGamma {
  const svcByKey = new Map<string, V1Service>();
  for (const s of services) svcByKey.set(`${s.metadata?.namespace}/${s.metadata?.name}`, s);
  /** portKey -> audience ('' = producer, else the consumer namespace) -> ranked routes. */
  const buckets = new Map<string, Map<string, Ranked[]>>();
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
    const refProblems: { reason: string; message: string }[] = [];
    const resolve = (b: BackendRef, what: string): string | null => {
      const bkind = b.kind ?? 'Service';
      const bns = b.namespace ?? ns;
      if (bkind !== 'Service' || (b.group ?? '') !== '') {
        refProblems.push({ reason: 'InvalidKind', message: `${what} ${b.group ?? ''}/${bkind} ${b.name}: only core Services are supported` });
        return null;
      }
      // GAMMA consumer routes: a route in another namespace may send to the very Service it attaches to (its parentRef)
      // without a ReferenceGrant; any other Service of another namespace is refused.
      if (bns !== ns && !serviceParents.some((p) => (p.namespace ?? ns) === bns && p.name === b.name)) {
        refProblems.push({ reason: 'RefNotPermitted', message: `${what} Service ${bns}/${b.name}: cross-namespace references are not permitted (ReferenceGrant is not supported in the mesh)` });
        return null;
      }
      const svc = svcByKey.get(`${bns}/${b.name}`);
      if (!svc) {
        refProblems.push({ reason: 'BackendNotFound', message: `${what} Service ${bns}/${b.name} not found` });
        return null;
      }
      if (b.port === undefined || !(svc.spec?.ports ?? []).some((p) => p.port === b.port)) {
        refProblems.push({ reason: 'BackendNotFound', message: `${what} Service ${bns}/${b.name} has no port ${b.port ?? '(none given)'}` });
        return null;
      }
      backends.set(portKey(bns, b.name, b.port), { namespace: bns, name: b.name, port: b.port });
      return clusterName(bns, b.name, b.port);
    };

    const created = createdAt(r.metadata?.creationTimestamp);
    const compiled: Ranked[] = [];
    (r.spec?.rules ?? []).forEach((rule, ri) => {
      const backendsOut: WeightedBackendConfig[] = [];
      for (const b of rule.backendRefs ?? []) {
        const cluster = resolve(b, 'backendRef');
        if (cluster === null) continue;
        // A backendRef's RequestHeaderModifier changes only the requests sent to that backend (after the rule's own).
        let own = EMPTY_MUTATION;
        for (const f of b.filters ?? []) if (f.type === 'RequestHeaderModifier') own = mutation(f.requestHeaderModifier, own);
        backendsOut.push({ cluster, weight: b.weight ?? 1, ...(own !== EMPTY_MUTATION ? { requestHeaders: own } : {}) });
      }
      const hasRefs = (rule.backendRefs ?? []).length > 0;
      let requestHeaders = EMPTY_MUTATION;
      let responseHeaders = EMPTY_MUTATION;
      let redirectFilter: RouteFilter['requestRedirect'] | null = null;
      let rewriteFilter: RouteFilter['urlRewrite'] | null = null;
      let unsupported: string | null = null;
      const mirrors: RequestMirrorConfig[] = [];
      for (const f of rule.filters ?? []) {
        if (f.type === 'RequestHeaderModifier') requestHeaders = mutation(f.requestHeaderModifier, requestHeaders);
        else if (f.type === 'ResponseHeaderModifier') responseHeaders = mutation(f.responseHeaderModifier, responseHeaders);
        else if (f.type === 'RequestRedirect' && kind === 'HTTPRoute') redirectFilter = f.requestRedirect ?? {};
        else if (f.type === 'URLRewrite' && kind === 'HTTPRoute') rewriteFilter = f.urlRewrite ?? {};
        else if (f.type === 'RequestMirror' && f.requestMirror) {
          const cluster = resolve(f.requestMirror.backendRef, 'RequestMirror backendRef');
          const fr = f.requestMirror.fraction;
          const percent = f.requestMirror.percent ?? (fr ? (100 * fr.numerator) / (fr.denominator ?? 100) : 100);
          if (cluster !== null) mirrors.push({ cluster, percent: Math.min(100, Math.max(0, percent)), maxBodyBytes: DEFAULT_MIRROR_BODY_BYTES });
        } else unsupported = f.type;
      }
      const timeouts = kind === 'HTTPRoute' ? (rule as NonNullable<HTTPRoute['spec']['rules']>[number]).timeouts : undefined;
      const timeoutMs = Math.min(86_400_000, parseGoDuration(timeouts?.request ?? '') ?? parseGoDuration(timeouts?.backendRequest ?? '') ?? 0);

      const matches: RouteMatchConfig[] =
        kind === 'HTTPRoute'
          ? ((rule as NonNullable<HTTPRoute['spec']['rules']>[number]).matches?.length ? (rule as NonNullable<HTTPRoute['spec']['rules']>[number]).matches! : [{}]).map((m) => ({
              path:
                m.path?.type === 'Exact'
                  ? { type: 'exact', value: m.path.value ?? '/' }
                  : m.path?.type === 'RegularExpression'
                    ? { type: 'regex', value: m.path.value ?? '/' }
                    : { type: 'prefix', value: m.path?.value ?? '/' },
              methods: m.method ? [m.method.toUpperCase()] : [],
              headers: headerMatches(m.headers),
              query: (m.queryParams ?? []).map((q) => ({ name: q.name, type: q.type === 'RegularExpression' ? ('regex' as const) : ('exact' as const), value: q.value })),
            }))
          : ((rule as NonNullable<GRPCRoute['spec']['rules']>[number]).matches?.length ? (rule as NonNullable<GRPCRoute['spec']['rules']>[number]).matches! : [{}]).map((m) => {
              const svc = m.method?.service;
              const method = m.method?.method;
              const re = m.method?.type === 'RegularExpression';
              const path: RouteMatchConfig['path'] =
                svc && method
                  ? re
                    ? { type: 'regex', value: `/${svc}/${method}` }
                    : { type: 'exact', value: `/${svc}/${method}` }
                  : svc
                    ? re
                      ? { type: 'regex', value: `/${svc}/[^/]+` }
                      : { type: 'prefix', value: `/${svc}` }
                    : method
                      ? { type: 'regex', value: `/[^/]+/${re ? method : escapeRe2(method)}` }
                      : { type: 'prefix', value: '/' };
              return { path, methods: [], headers: headerMatches(m.headers), query: [] };
            });

      matches.forEach((match, mi) => {
        // Gateway API: no backend that resolves (or an unsupported filter) answers 500 for the requests the rule matches.
        const failed = unsupported !== null || (redirectFilter === null && (backendsOut.length === 0 || backendsOut.every((b) => b.weight === 0)));
        const route: GammaRoute = {
          name: `${kind.toLowerCase()}/${ns}/${name}/rule${ri}/match${mi}`,
          match,
          backends: failed || redirectFilter !== null ? [] : backendsOut,
          directResponse: failed ? { status: 500, body: unsupported !== null ? `unsupported filter ${unsupported}\n` : hasRefs ? 'no backend of this route resolves\n' : 'this route has no backend\n' } : null,
          requestHeaders,
          responseHeaders,
          timeoutMs,
          redirect:
            redirectFilter !== null && !failed
              ? {
                  scheme: redirectFilter.scheme ?? null,
                  hostname: redirectFilter.hostname?.toLowerCase() ?? null,
                  port: redirectFilter.port ?? null,
                  path: pathModifier(redirectFilter.path, match),
                  statusCode: ([301, 302, 303, 307, 308] as const).find((c) => c === redirectFilter!.statusCode) ?? 302,
                }
              : null,
          rewrite: rewriteFilter !== null && redirectFilter === null && !failed ? { hostname: rewriteFilter.hostname?.toLowerCase() ?? null, path: pathModifier(rewriteFilter.path, match) } : null,
          retries: null,
          streamIdleTimeoutMs: 0,
          rateLimit: null,
          fault: null,
          mirrors: failed ? [] : mirrors,
        };
        compiled.push({ route, key: [...precedence(match), created, `${ns}/${name}`, ri, mi] });
      });
    });

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

  const cmp = (a: Ranked, b: Ranked): number => {
    for (let i = 0; i < a.key.length; i++) {
      const x = a.key[i]!;
      const y = b.key[i]!;
      if (x !== y) return typeof x === 'number' && typeof y === 'number' ? x - y : String(x) < String(y) ? -1 : 1;
    }
    return 0;
  };
  const sorted = new Map<string, Map<string, readonly RouteConfig[]>>();
  for (const [key, byAudience] of buckets) {
    const m = new Map<string, readonly RouteConfig[]>();
    for (const [aud, list] of byAudience) m.set(aud, [...list].sort(cmp).map((x) => x.route));
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
