// One AuthorizationPolicy checked and converted to the proxy's form (pure). The API server's schema and CEL rules refuse
// most bad values, but objects stored before the CRD was (re)applied, or with it missing its rules, reach us too: every
// problem is found here, all at once, and an invalid policy allows nothing (it still selects its workloads: fail closed).
import type { AuthorizationPolicyConfig } from '../../api/config/mesh-identity-config.ts';
import { authorizationPolicyConfig, type AuthorizationPolicy } from '../../api/crd/authorization-policy.ts';
import { pathAmbiguity } from '../../api/mesh/ambiguous-path.ts';
import { parseSpiffeId } from '../../api/proto/identity.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SA_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const METHOD = /^[A-Z]{1,32}$/;
/** The proxy config's limits (api/config/mesh-identity-schema.ts): beyond them a push would be refused whole. */
const LIMITS = { rules: 256, from: 64, to: 64, list: 256, methods: 32, name: 253, path: 1024 } as const;

export interface CompiledAuthorization {
  readonly config: AuthorizationPolicyConfig;
  /** Empty: valid. Otherwise `config` has no rules (deny) and these say why. */
  readonly problems: readonly string[];
}

const isArray = (v: unknown): v is unknown[] => Array.isArray(v);

function checkList(v: unknown, path: string, max: number, check: (x: unknown, at: string) => string | null, problems: string[]): void {
  if (v === undefined) return;
  if (!isArray(v)) return void problems.push(`${path}: must be a list`);
  if (v.length > max) problems.push(`${path}: at most ${max} entries`);
  v.forEach((x, i) => {
    const p = check(x, `${path}[${i}]`);
    if (p !== null) problems.push(p);
  });
}

function checkPath(x: unknown, at: string): string | null {
  const p = x as { type?: unknown; value?: unknown };
  if (p === null || typeof p !== 'object') return `${at}: must be {type, value}`;
  if (p.type !== 'Exact' && p.type !== 'PathPrefix') return `${at}.type: must be Exact or PathPrefix`;
  if (typeof p.value !== 'string' || p.value.length === 0 || p.value.length > LIMITS.path) return `${at}.value: must be a path of 1 to ${LIMITS.path} characters`;
  // Matched against the path as forwarded: a rule path that is itself ambiguous could never mean one thing.
  const why = pathAmbiguity(p.value);
  return why === null ? null : `${at}.value: must be canonical (${why})`;
}

/** Every problem of the policy's rules, with paths as `spec.rules[0].from[1].identities[0]`. */
export function authorizationProblems(policy: AuthorizationPolicy): string[] {
  const problems: string[] = [];
  const ns = policy.metadata?.namespace ?? '';
  if (`${ns}/${policy.metadata?.name ?? ''}`.length > LIMITS.name) problems.push(`metadata.name: namespace/name must be at most ${LIMITS.name} characters`);
  const rules = policy.spec?.rules;
  if (rules !== undefined && !isArray(rules)) return [...problems, 'spec.rules: must be a list'];
  if ((rules ?? []).length > LIMITS.rules) problems.push(`spec.rules: at most ${LIMITS.rules} rules`);
  (rules ?? []).forEach((r, ri) => {
    const at = `spec.rules[${ri}]`;
    checkList(r?.from, `${at}.from`, LIMITS.from, (x, fat) => {
      const f = (x ?? {}) as Record<string, unknown>;
      const named = ['serviceAccounts', 'identities', 'namespaces', 'unauthenticated'].filter((k) => f[k] !== undefined);
      if (named.length === 0) return `${fat}: a source names serviceAccounts, identities, namespaces or unauthenticated`;
      if (f.unauthenticated !== undefined && typeof f.unauthenticated !== 'boolean') return `${fat}.unauthenticated: must be true or false`;
      if (f.unauthenticated === true && named.length > 1) return `${fat}: unauthenticated callers have no identity, so unauthenticated cannot be combined with serviceAccounts, identities or namespaces`;
      const inner: string[] = [];
      checkList(f.serviceAccounts, `${fat}.serviceAccounts`, LIMITS.list, (s, sat) => {
        const sa = s as { name?: unknown; namespace?: unknown };
        if (typeof sa?.name !== 'string' || !SA_NAME.test(sa.name)) return `${sat}.name: must be a ServiceAccount name`;
        if (sa.namespace !== undefined && (typeof sa.namespace !== 'string' || !DNS_LABEL.test(sa.namespace))) return `${sat}.namespace: must be a namespace name`;
        return null;
      }, inner);
      checkList(f.identities, `${fat}.identities`, LIMITS.list, (id, iat) =>
        id === '*' || (typeof id === 'string' && id.length <= 512 && parseSpiffeId(id) !== null) ? null : `${iat}: must be spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount> or *`, inner);
      checkList(f.namespaces, `${fat}.namespaces`, LIMITS.list, (n, nat) => (typeof n === 'string' && DNS_LABEL.test(n) ? null : `${nat}: must be a namespace name`), inner);
      return inner.length > 0 ? inner.join('; ') : null;
    }, problems);
    checkList(r?.to, `${at}.to`, LIMITS.to, (x, tat) => {
      const t = (x ?? {}) as Record<string, unknown>;
      if (t.ports === undefined && t.paths === undefined && t.methods === undefined) return `${tat}: a target names ports, paths or methods`;
      const inner: string[] = [];
      checkList(t.ports, `${tat}.ports`, LIMITS.list, (p, pat) => (Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535 ? null : `${pat}: must be a port 1-65535`), inner);
      checkList(t.paths, `${tat}.paths`, LIMITS.list, checkPath, inner);
      checkList(t.methods, `${tat}.methods`, LIMITS.methods, (m, mat) => (typeof m === 'string' && METHOD.test(m) ? null : `${mat}: must be an upper-case method`), inner);
      return inner.length > 0 ? inner.join('; ') : null;
    }, problems);
  });
  return problems;
}

export function compileAuthorizationPolicy(policy: AuthorizationPolicy, trustDomain: string): CompiledAuthorization {
  const problems = authorizationProblems(policy);
  const name = `${policy.metadata?.namespace ?? 'default'}/${policy.metadata?.name ?? ''}`;
  if (problems.length > 0) return { config: { name: name.slice(0, LIMITS.name), rules: [] }, problems };
  return { config: authorizationPolicyConfig(policy, trustDomain), problems };
}
