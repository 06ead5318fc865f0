// Compiles an inbound listener's authorization config into its checks: per HTTP request (who, port, path, method) and per opaque
// TCP connection (who, port), from one set of rules.
import type { AuthorizationConfig, AuthorizationSourceConfig, AuthorizationTargetConfig } from '../../api/config/mesh-identity-config.ts';
import { parseSpiffeId } from '../../api/proto/identity.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import type { Authorizer } from '../stack/stack-hooks.ts';
import type { RateLimitedLog } from '../telemetry/rate-limited-log.ts';
import { pathAmbiguity } from '../../api/mesh/ambiguous-path.ts';
import type { IdentityMetrics } from './identity-metrics.ts';

/**
 * What a decision looks at: an HTTP request, or an opaque TCP connection (which has no method and no path). `peer` is the
 * verified mTLS identity, or null for a caller that did not prove one.
 */
export type AuthorizationInput =
  | {
      readonly protocol: 'http';
      readonly peer: string | null;
      readonly port: number;
      readonly method: string;
      /** The path as forwarded, query excluded. */
      readonly path: string;
    }
  | { readonly protocol: 'tcp'; readonly peer: string | null; readonly port: number };

export interface AuthorizationDecision {
  readonly allow: boolean;
  /** The policy whose rule allowed; for a denial, the policies that select the workload (comma-separated); '' by default. */
  readonly policy: string;
  /** `policy` | `default` | `no-match` | `ambiguous-path`. */
  readonly reason: 'policy' | 'default' | 'no-match' | 'ambiguous-path';
}

type Match = (i: AuthorizationInput) => boolean;

function sourceMatcher(s: AuthorizationSourceConfig): Match {
  const checks: Match[] = [];
  if (s.unauthenticated) checks.push((i) => i.peer === null);
  if (s.identities.length > 0) {
    const any = s.identities.includes('*');
    const ids = new Set(s.identities);
    checks.push(any ? (i) => i.peer !== null : (i) => i.peer !== null && ids.has(i.peer));
  }
  if (s.namespaces.length > 0) {
    const ns = new Set(s.namespaces);
    checks.push((i) => {
      const p = i.peer === null ? null : parseSpiffeId(i.peer);
      return p !== null && ns.has(p.namespace);
    });
  }
  return (i) => checks.every((c) => c(i));
}

function prefixMatcher(prefix: string): (p: string) => boolean {
  // Element-wise, as route matching does (Gateway API PathPrefix): /api matches /api and /api/x, never /apix.
  if (prefix === '/') return () => true;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const withSlash = trimmed + '/';
  return (p) => p === trimmed || p.startsWith(withSlash);
}

/**
 * A request condition. On a TCP connection a condition naming methods or paths cannot be evaluated, and an ALLOW condition
 * that cannot be evaluated does not match (Istio's rule): a rule that allows `GET /api` never allows raw TCP, so the
 * connection falls to the deny that selection implies. (Rules only allow today; a DENY rule, if one is ever added, must do
 * the opposite on TCP, drop its HTTP-only fields and match more, so that the ambiguity still fails closed.)
 */
function targetMatcher(t: AuthorizationTargetConfig): Match {
  const checks: Match[] = [];
  if (t.ports.length > 0) {
    const ports = new Set(t.ports);
    checks.push((i) => ports.has(i.port));
  }
  if (t.methods.length > 0) {
    // Methods are case-sensitive (RFC 9110): "get" is not GET, so it matches no rule naming GET (fail closed).
    const methods = new Set(t.methods);
    checks.push((i) => i.protocol === 'http' && methods.has(i.method));
  }
  if (t.paths.length > 0) {
    const paths = t.paths.map((p) => (p.type === 'exact' ? (s: string) => s === p.value : prefixMatcher(p.value)));
    checks.push((i) => i.protocol === 'http' && paths.some((m) => m(i.path)));
  }
  return (i) => checks.every((c) => c(i));
}

/** The pure decision function of a config: compiled once, then called per request. */
export function compileAuthorization(config: AuthorizationConfig): (i: AuthorizationInput) => AuthorizationDecision {
  if (config.policies.length === 0) {
    const d: AuthorizationDecision = { allow: config.defaultAction === 'allow', policy: '', reason: 'default' };
    return () => d;
  }
  const usesPaths = config.policies.some((p) => p.rules.some((r) => r.to.some((t) => t.paths.length > 0)));
  const rules = config.policies.flatMap((p) =>
    p.rules.map((r) => {
      const from = r.from.map(sourceMatcher);
      const to = r.to.map(targetMatcher);
      return {
        decision: { allow: true, policy: p.name, reason: 'policy' } as AuthorizationDecision,
        matches: (i: AuthorizationInput) => (from.length === 0 || from.some((m) => m(i))) && (to.length === 0 || to.some((m) => m(i))),
      };
    }),
  );
  // A denial names the policies that select the workload (none allowed the request): the metric's `policy` label and the
  // log line say whose rules to read. Bounded by the config, not by requests.
  const selecting = config.policies.map((p) => p.name).join(',');
  const named = selecting.length <= 256 ? selecting : `${selecting.slice(0, 240)},...(${config.policies.length})`;
  const noMatch: AuthorizationDecision = { allow: false, policy: named, reason: 'no-match' };
  const ambiguous: AuthorizationDecision = { allow: false, policy: named, reason: 'ambiguous-path' };
  return (i) => {
    // A path that may read differently to the app cannot be judged by a path rule: fail closed before any rule sees it.
    if (usesPaths && i.protocol === 'http' && pathAmbiguity(i.path) !== null) return ambiguous;
    for (const r of rules) if (r.matches(i)) return r.decision;
    return noMatch;
  };
}

/** The connection-level check of an opaque TCP connection: true to forward it, false to close it before a byte reaches the app. */
export type ConnectionAuthorizer = (peer: string | null, port: number, recheck?: boolean) => boolean;

/** Both checks of one listener, sharing its counters; built once per authorization config, never per request. */
export interface ListenerAuthorization {
  /** For the request stack (HTTP/1.1, HTTP/2, gRPC, WebSocket upgrades): null to allow, else the 403 to answer. */
  readonly request: Authorizer;
  /**
   * For opaque TCP (a `tcp` listener, or detection falling back to TCP): called when the connection is dispatched, and again
   * with `recheck` when the listener's policy changes while it is open (a recheck counts and logs denials only, so the
   * allow counter stays one per connection).
   */
  readonly connection: ConnectionAuthorizer;
}

/** The checks for a listener: the decision, a counter per outcome (children made here) and a rate-limited log line per denial. */
export function buildAuthorizer(config: AuthorizationConfig, listener: string, metrics: IdentityMetrics, logs: RateLimitedLog): ListenerAuthorization {
  const decide = compileAuthorization(config);
  const counters = new Map<string, ReturnType<IdentityMetrics['authorizationCounter']>>();
  const counter = (d: AuthorizationDecision): ReturnType<IdentityMetrics['authorizationCounter']> => {
    const key = `${d.policy}\u0000${d.allow}\u0000${d.reason}`;
    let c = counters.get(key);
    if (c === undefined) {
      c = metrics.authorizationCounter(listener, d.policy, d.allow ? 'allow' : 'deny', d.reason);
      counters.set(key, c);
    }
    return c;
  };
  const request = (req: ProxyRequest): ProxyError | null => {
    const q = req.path.indexOf('?');
    const input: AuthorizationInput = {
      protocol: 'http',
      peer: req.downstream.peerIdentity,
      port: req.downstream.originalDst?.port ?? req.downstream.localPort ?? 0,
      method: req.method,
      path: q < 0 ? req.path : req.path.slice(0, q),
    };
    const d = decide(input);
    counter(d).inc();
    if (d.allow) return null;
    logs.write(`${listener}\u0000${d.reason}`, 'warn', 'request denied by authorization policy', {
      listener,
      reason: d.reason,
      policies: d.policy,
      caller: input.peer ?? 'unauthenticated',
      method: input.method.slice(0, 32),
      path: input.path.slice(0, 256),
      port: input.port,
    });
    return new ProxyError(ERRORS.forbidden, d.reason);
  };
  const connection = (peer: string | null, port: number, recheck = false): boolean => {
    const d = decide({ protocol: 'tcp', peer, port });
    if (d.allow) {
      if (!recheck) counter(d).inc();
      return true;
    }
    counter(d).inc();
    logs.write(`${listener}\u0000tcp\u0000${d.reason}`, 'warn', recheck ? 'open TCP connection closed: no longer allowed by authorization policy' : 'TCP connection denied by authorization policy', {
      listener,
      protocol: 'tcp',
      reason: d.reason,
      policies: d.policy,
      caller: peer ?? 'unauthenticated',
      port,
    });
    return false;
  };
  return { request, connection };
}
