// The rules of one Gateway API HTTPRoute or GRPCRoute compiled (pure) into the proxy's routes, ranked by Gateway API
// precedence: the one translation of matches and filters, shared by the mesh (GAMMA, Service parents) and the ingress
// (Gateway parents). Who may be a backend differs between the two, so backends are resolved by the caller.
import type { V1Service } from '@kubernetes/client-node';
import type { CorsConfig } from '../../api/config/edge-policy-config.ts';
import type { RequestMirrorConfig } from '../../api/config/policy-config.ts';
import type { HeaderMatchConfig, HeaderMutationConfig, PathModifierConfig, RouteConfig, RouteMatchConfig, WeightedBackendConfig } from '../../api/config/proxy-config.ts';
import type { BackendRef, GRPCRoute, HeaderModifier, HTTPPathModifier, HTTPRoute, RouteFilter } from '../../api/crd/gateway-api.ts';
import { DEFAULT_MIRROR_BODY_BYTES } from '../../api/config/policy-config-defaults.ts';
import { clusterName } from './mesh-inputs.ts';
import { ruleTiming, type RuleTiming } from './route-retry.ts';

export type RouteKind = 'HTTPRoute' | 'GRPCRoute';

/** GRPCRoute has neither timeouts nor retry (v1.6). */
const NO_TIMING: RuleTiming = { timeoutMs: 0, retries: null };

/** A compiled route with its precedence key (compare with compareRanked). */
export interface RankedRoute {
  readonly route: RouteConfig;
  readonly key: readonly (number | string)[];
}

/** Why a reference does not resolve: the Gateway API reason (BackendNotFound, RefNotPermitted, InvalidKind) and a message. */
export interface RefProblem {
  readonly reason: string;
  readonly message: string;
}

export interface RuleOptions {
  /** The cluster a backendRef (or mirror backendRef) names, or null after pushing why it does not resolve. `what` names the field. */
  readonly resolve: (b: BackendRef, what: string) => string | null;
  /** The CORS filter is applied (the ingress's edge layer); without it the filter is unsupported (the rule answers 500). */
  readonly cors: boolean;
  /** Prefix of every route name (`<kind>/<ns>/<name>` by default). */
  readonly namePrefix?: string;
}

/** A Service port a route sends to (backend or mirror): the translator makes sure the proxy holds its cluster. */
export interface BackendPort {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
}

/**
 * The resolver of core Service backendRefs of a route in `routeNs`: the cluster of the Service port, or null after pushing
 * why not (InvalidKind, RefNotPermitted, BackendNotFound). `crossNamespace` says why a reference to another namespace is
 * not permitted, or null when it is (a ReferenceGrant allows it); `used` hears of every port that resolves.
 */
export function serviceBackendResolver(
  routeNs: string,
  services: ReadonlyMap<string, V1Service>,
  problems: RefProblem[],
  used: (b: BackendPort) => void,
  crossNamespace: (namespace: string, name: string) => string | null,
): (b: BackendRef, what: string) => string | null {
  return (b, what) => {
    const bkind = b.kind ?? 'Service';
    const bns = b.namespace ?? routeNs;
    if (bkind !== 'Service' || (b.group ?? '') !== '') {
      problems.push({ reason: 'InvalidKind', message: `${what} ${b.group ?? ''}/${bkind} ${b.name}: only core Services are supported` });
      return null;
    }
    if (bns !== routeNs) {
      const why = crossNamespace(bns, b.name);
      if (why !== null) {
        problems.push({ reason: 'RefNotPermitted', message: `${what} Service ${bns}/${b.name}: ${why}` });
        return null;
      }
    }
    const svc = services.get(`${bns}/${b.name}`);
    if (!svc) {
      problems.push({ reason: 'BackendNotFound', message: `${what} Service ${bns}/${b.name} not found` });
      return null;
    }
    if (b.port === undefined || !(svc.spec?.ports ?? []).some((p) => p.port === b.port)) {
      problems.push({ reason: 'BackendNotFound', message: `${what} Service ${bns}/${b.name} has no port ${b.port ?? '(none given)'}` });
      return null;
    }
    used({ namespace: bns, name: b.name, port: b.port });
    return clusterName(bns, b.name, b.port);
  };
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

export function compareRanked(a: RankedRoute, b: RankedRoute): number {
  for (let i = 0; i < a.key.length && i < b.key.length; i++) {
    const x = a.key[i]!;
    const y = b.key[i]!;
    if (x !== y) return typeof x === 'number' && typeof y === 'number' ? x - y : String(x) < String(y) ? -1 : 1;
  }
  return a.key.length - b.key.length;
}

/** Gateway API CORS filter -> the edge layer's CORS policy (the same fields; methods upper-case, headers lower-case). */
function corsPolicy(c: NonNullable<RouteFilter['cors']>): CorsConfig {
  return {
    allowOrigins: [...(c.allowOrigins ?? [])],
    allowMethods: (c.allowMethods ?? []).map((m) => (m === '*' ? m : m.toUpperCase())),
    allowHeaders: (c.allowHeaders ?? []).map((h) => h.toLowerCase()),
    exposeHeaders: (c.exposeHeaders ?? []).map((h) => h.toLowerCase()),
    maxAge: c.maxAge ?? 5,
    allowCredentials: c.allowCredentials ?? false,
  };
}

type HttpRule = NonNullable<HTTPRoute['spec']['rules']>[number];
type GrpcRule = NonNullable<GRPCRoute['spec']['rules']>[number];

function httpMatches(rule: HttpRule): RouteMatchConfig[] {
  return (rule.matches?.length ? rule.matches : [{}]).map((m) => ({
    path:
      m.path?.type === 'Exact'
        ? { type: 'exact', value: m.path.value ?? '/' }
        : m.path?.type === 'RegularExpression'
          ? { type: 'regex', value: m.path.value ?? '/' }
          : { type: 'prefix', value: m.path?.value ?? '/' },
    methods: m.method ? [m.method.toUpperCase()] : [],
    headers: headerMatches(m.headers),
    query: (m.queryParams ?? []).map((q) => ({ name: q.name, type: q.type === 'RegularExpression' ? ('regex' as const) : ('exact' as const), value: q.value })),
  }));
}

function grpcMatches(rule: GrpcRule): RouteMatchConfig[] {
  return (rule.matches?.length ? rule.matches : [{}]).map((m) => {
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
}

/** Every rule and match of a route, compiled; the routes are ranked but not yet sorted (routes of several objects merge). */
export function compileRouteRules(kind: RouteKind, r: HTTPRoute | GRPCRoute, opts: RuleOptions): RankedRoute[] {
  const ns = r.metadata?.namespace ?? '';
  const name = r.metadata?.name ?? '';
  const created = createdAt(r.metadata?.creationTimestamp);
  const prefix = opts.namePrefix ?? `${kind.toLowerCase()}/${ns}/${name}`;
  const compiled: RankedRoute[] = [];
  (r.spec?.rules ?? []).forEach((rule, ri) => {
    const backendsOut: WeightedBackendConfig[] = [];
    for (const b of rule.backendRefs ?? []) {
      const cluster = opts.resolve(b, 'backendRef');
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
    let cors: CorsConfig | null = null;
    let unsupported: string | null = null;
    const mirrors: RequestMirrorConfig[] = [];
    for (const f of rule.filters ?? []) {
      if (f.type === 'RequestHeaderModifier') requestHeaders = mutation(f.requestHeaderModifier, requestHeaders);
      else if (f.type === 'ResponseHeaderModifier') responseHeaders = mutation(f.responseHeaderModifier, responseHeaders);
      else if (f.type === 'RequestRedirect' && kind === 'HTTPRoute') redirectFilter = f.requestRedirect ?? {};
      else if (f.type === 'URLRewrite' && kind === 'HTTPRoute') rewriteFilter = f.urlRewrite ?? {};
      else if (f.type === 'CORS' && kind === 'HTTPRoute' && opts.cors && f.cors) cors = corsPolicy(f.cors);
      else if (f.type === 'RequestMirror' && f.requestMirror) {
        const cluster = opts.resolve(f.requestMirror.backendRef, 'RequestMirror backendRef');
        const fr = f.requestMirror.fraction;
        const percent = f.requestMirror.percent ?? (fr ? (100 * fr.numerator) / (fr.denominator ?? 100) : 100);
        if (cluster !== null) mirrors.push({ cluster, percent: Math.min(100, Math.max(0, percent)), maxBodyBytes: DEFAULT_MIRROR_BODY_BYTES });
      } else unsupported = f.type;
    }
    const { timeoutMs, retries } = kind === 'HTTPRoute' ? ruleTiming(rule as HttpRule) : NO_TIMING;
    const matches = kind === 'HTTPRoute' ? httpMatches(rule as HttpRule) : grpcMatches(rule as GrpcRule);

    matches.forEach((match, mi) => {
      // Gateway API: no backend that resolves (or an unsupported filter) answers 500 for the requests the rule matches.
      const failed = unsupported !== null || (redirectFilter === null && (backendsOut.length === 0 || backendsOut.every((b) => b.weight === 0)));
      const route: RouteConfig = {
        name: `${prefix}/rule${ri}/match${mi}`,
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
        retries: failed || redirectFilter !== null ? null : retries,
        streamIdleTimeoutMs: 0,
        rateLimit: null,
        fault: null,
        mirrors: failed ? [] : mirrors,
        ...(cors !== null && !failed ? { edge: { ipFilter: null, cors, jwt: null, extAuthz: null } } : {}),
      };
      compiled.push({ route, key: [...precedence(match), created, `${ns}/${name}`, ri, mi] });
    });
  });
  return compiled;
}
