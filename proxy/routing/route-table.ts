// Compiles virtual hosts and routes once per config, then picks the route for each request without allocating.
import { RE2JS } from 're2js';
import type { HeaderMatchConfig, RouteConfig, VirtualHostConfig, WeightedBackendConfig } from '../../api/config/proxy-config.ts';
import { compilePathModifier, type PathChange } from './path-modifier.ts';

/** What routing looks at: request headers are lower-case keyed; `path` excludes the query string. */
export interface RouteInput {
  readonly authority: string;
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

type Predicate = (input: RouteInput, params: URLSearchParams | null) => boolean;

export interface CompiledRoute {
  readonly name: string;
  readonly virtualHost: string;
  readonly config: RouteConfig;
  readonly needsQuery: boolean;
  readonly matches: Predicate;
  /** The redirect's and the rewrite's path changes, compiled (null: the path is kept). */
  readonly redirectPath: PathChange | null;
  readonly rewritePath: PathChange | null;
  /** Picks a backend cluster name by weight. */
  pickBackend(): WeightedBackendConfig | null;
}

export interface CompiledVirtualHost {
  readonly name: string;
  readonly routes: readonly CompiledRoute[];
}

function headerValue(headers: RouteInput['headers'], name: string): string | undefined {
  const v = headers[name];
  // Only real values: on Node's HTTP/1 header object an absent "constructor" or "__proto__" header is inherited, not absent.
  return Array.isArray(v) ? v.join(',') : typeof v === 'string' ? v : undefined;
}

function stringMatcher(type: 'exact' | 'prefix' | 'regex', value: string): (s: string) => boolean {
  switch (type) {
    case 'exact':
      return (s) => s === value;
    case 'prefix':
      return (s) => s.startsWith(value);
    case 'regex': {
      const re = RE2JS.compile(value);
      // Full match, linear time (RE2 semantics): no catastrophic backtracking on hostile input.
      return (s) => re.matches(s);
    }
  }
}

/** Gateway API PathPrefix semantics: element-wise, so /api matches /api and /api/x but not /apix. */
function pathPrefixMatcher(prefix: string): (p: string) => boolean {
  if (prefix === '/' ) return () => true;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const withSlash = trimmed + '/';
  return (p) => p === trimmed || p.startsWith(withSlash);
}

function headerPredicate(h: HeaderMatchConfig): Predicate {
  const name = h.name;
  let test: (v: string | undefined) => boolean;
  if (h.type === 'present') test = (v) => v !== undefined;
  else {
    const m = stringMatcher(h.type, h.value);
    test = (v) => v !== undefined && m(v);
  }
  return h.invert ? (i) => !test(headerValue(i.headers, name)) : (i) => test(headerValue(i.headers, name));
}

function compileRoute(vhost: string, r: RouteConfig): CompiledRoute {
  const preds: Predicate[] = [];
  const p = r.match.path;
  if (p) {
    const m = p.type === 'prefix' ? pathPrefixMatcher(p.value) : stringMatcher(p.type, p.value);
    preds.push((i) => m(i.path));
  }
  if (r.match.methods.length > 0) {
    const methods = new Set(r.match.methods);
    preds.push((i) => methods.has(i.method));
  }
  for (const h of r.match.headers) preds.push(headerPredicate(h));
  for (const q of r.match.query) {
    const name = q.name;
    if (q.type === 'present') preds.push((_i, params) => params !== null && params.has(name));
    else {
      const m = stringMatcher(q.type, q.value);
      preds.push((_i, params) => {
        const v = params?.get(name);
        return v !== undefined && v !== null && m(v);
      });
    }
  }
  const matches: Predicate =
    preds.length === 0 ? () => true : preds.length === 1 ? preds[0]! : (i, params) => preds.every((f) => f(i, params));
  return {
    name: r.name,
    virtualHost: vhost,
    config: r,
    needsQuery: r.match.query.length > 0,
    matches,
    redirectPath: compilePathModifier(r.redirect?.path ?? null, r),
    rewritePath: compilePathModifier(r.rewrite?.path ?? null, r),
    pickBackend: weightedPicker(r.backends),
  };
}

/** Returns a function choosing a backend with probability proportional to its weight. */
export function weightedPicker(backends: readonly WeightedBackendConfig[], random: () => number = Math.random): () => WeightedBackendConfig | null {
  const live = backends.filter((b) => b.weight > 0);
  if (live.length === 0) return () => null;
  if (live.length === 1) {
    const only = live[0]!;
    return () => only;
  }
  const cumulative: number[] = [];
  let total = 0;
  for (const b of live) cumulative.push((total += b.weight));
  return () => {
    const x = random() * total;
    for (let i = 0; i < cumulative.length; i++) if (x < cumulative[i]!) return live[i]!;
    return live[live.length - 1]!;
  };
}

export class RouteTable {
  readonly #exact = new Map<string, CompiledVirtualHost>();
  readonly #suffixes: { suffix: string; vhost: CompiledVirtualHost }[] = [];
  #fallback: CompiledVirtualHost | null = null;
  readonly #byName = new Map<string, CompiledVirtualHost>();
  readonly #byConfig = new Map<VirtualHostConfig, CompiledVirtualHost>();
  readonly #narrowed = new Map<string, RouteTable>();

  /** `reuse`: a virtual host compiled already (by an earlier table) for this very config object, to take as it is. */
  constructor(virtualHosts: readonly VirtualHostConfig[], reuse?: (vh: VirtualHostConfig) => CompiledVirtualHost | undefined) {
    for (const vh of virtualHosts) {
      const compiled: CompiledVirtualHost = reuse?.(vh) ?? { name: vh.name, routes: vh.routes.map((r) => compileRoute(vh.name, r)) };
      this.#byConfig.set(vh, compiled);
      if (!this.#byName.has(vh.name)) this.#byName.set(vh.name, compiled);
      for (const d of vh.domains) {
        if (d === '*') this.#fallback ??= compiled;
        else if (d.startsWith('*.')) this.#suffixes.push({ suffix: d.slice(1), vhost: compiled });
        else if (!this.#exact.has(d)) this.#exact.set(d, compiled);
      }
    }
    // Longest suffix wins.
    this.#suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  /** The compiled form of a virtual host of this table, by its config object (the same object, not an equal one). */
  compiledFor(vh: VirtualHostConfig): CompiledVirtualHost | undefined {
    return this.#byConfig.get(vh);
  }

  /**
   * A table that routes every request by one virtual host of this one, whatever its Host (a service VIP's routes). It shares
   * the compiled routes, so a request reaching a route by VIP or by Host takes the same route stack.
   */
  forVirtualHost(name: string): RouteTable | null {
    let t = this.#narrowed.get(name);
    if (t === undefined) {
      const vh = this.#byName.get(name);
      if (vh === undefined) return null;
      t = new RouteTable([]);
      t.#fallback = vh;
      this.#narrowed.set(name, t);
    }
    return t;
  }

  /** Finds the virtual host for an authority (`host` or `host:port`, any case). */
  virtualHost(authority: string): CompiledVirtualHost | null {
    const a = authority.toLowerCase();
    const exact = this.#exact.get(a);
    if (exact) return exact;
    const host = stripPort(a);
    if (host !== a) {
      const h = this.#exact.get(host);
      if (h) return h;
    }
    for (const s of this.#suffixes) if (host.endsWith(s.suffix) && host.length > s.suffix.length) return s.vhost;
    return this.#fallback;
  }

  /** Finds the first matching route, or null. */
  route(input: RouteInput): CompiledRoute | null {
    const vh = this.virtualHost(input.authority);
    if (!vh) return null;
    let params: URLSearchParams | null | undefined;
    for (const r of vh.routes) {
      if (r.needsQuery && params === undefined) params = input.query ? new URLSearchParams(input.query) : null;
      if (r.matches(input, params ?? null)) return r;
    }
    return null;
  }
}

export function stripPort(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end > 0 ? authority.slice(0, end + 1) : authority;
  }
  const colon = authority.lastIndexOf(':');
  return colon >= 0 && authority.indexOf(':') === colon ? authority.slice(0, colon) : authority;
}
