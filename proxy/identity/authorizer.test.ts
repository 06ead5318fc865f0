// The authorization decision: default allow / deny-when-selected, sources, targets, paths that fail closed (RELIABILITY #5),
// and opaque TCP connections judged by the same rules (an ALLOW rule with HTTP-only conditions never matches TCP).
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { AuthorizationConfig } from '../../api/config/mesh-identity-config.ts';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import { pathAmbiguity } from '../../api/mesh/ambiguous-path.ts';
import { RateLimitedLog } from '../telemetry/rate-limited-log.ts';
import { buildAuthorizer, compileAuthorization, type AuthorizationInput } from './authorizer.ts';
import { IdentityMetrics } from './identity-metrics.ts';

const WEB = 'spiffe://cluster.local/ns/demo/sa/web';
const OTHER = 'spiffe://cluster.local/ns/other/sa/web';
type HttpInput = Extract<AuthorizationInput, { protocol: 'http' }>;
const req = (o: Partial<Omit<HttpInput, 'protocol'>>): AuthorizationInput => ({ protocol: 'http', peer: WEB, port: 8080, method: 'GET', path: '/', ...o });
const tcp = (o: { peer?: string | null; port?: number }): AuthorizationInput => ({ protocol: 'tcp', peer: WEB, port: 8080, ...o });

/** Through the real parser, so the defaults and normalisation are the proxy's own. */
function authz(a: Record<string, unknown>): AuthorizationConfig {
  const r = parseProxyConfig({ listeners: [{ name: 'in', port: 0, direction: 'inbound', authorization: a, virtualHosts: [] }] });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value.listeners[0]!.authorization!;
}

describe('compileAuthorization', () => {
  it('with no policy follows the default action', () => {
    expect(compileAuthorization(authz({}))(req({}))).toEqual({ allow: true, policy: '', reason: 'default' });
    expect(compileAuthorization(authz({ defaultAction: 'deny' }))(req({ peer: null }))).toMatchObject({ allow: false, reason: 'default' });
  });

  it('denies what no rule allows once a policy selects the workload (even with defaultAction allow)', () => {
    const d = compileAuthorization(authz({ policies: [{ name: 'demo/only-web', rules: [{ from: [{ identities: [WEB] }] }] }] }));
    expect(d(req({}))).toEqual({ allow: true, policy: 'demo/only-web', reason: 'policy' });
    expect(d(req({ peer: OTHER }))).toMatchObject({ allow: false, reason: 'no-match' });
    expect(d(req({ peer: null }))).toMatchObject({ allow: false, reason: 'no-match' });
  });

  it('a denial names the policies that select the workload (the metric label), bounded in length', () => {
    const two = compileAuthorization(authz({ policies: [{ name: 'demo/a', rules: [{ from: [{ identities: [WEB] }] }] }, { name: 'demo/b', rules: [] }] }));
    expect(two(req({ peer: OTHER }))).toEqual({ allow: false, policy: 'demo/a,demo/b', reason: 'no-match' });
    const many = compileAuthorization(authz({ policies: Array.from({ length: 40 }, (_, i) => ({ name: `demo/policy-number-${i}`, rules: [] })) }));
    const label = many(req({})).policy;
    expect(label.length).toBeLessThanOrEqual(256);
    expect(label).toMatch(/^demo\/policy-number-0,.*\.\.\.\(40\)$/);
  });

  it('matches namespaces, any verified caller, and unauthenticated callers', () => {
    const ns = compileAuthorization(authz({ policies: [{ name: 'p', rules: [{ from: [{ namespaces: ['other'] }] }] }] }));
    expect(ns(req({ peer: OTHER })).allow).toBe(true);
    expect(ns(req({ peer: WEB })).allow).toBe(false);
    expect(ns(req({ peer: null })).allow).toBe(false);
    const any = compileAuthorization(authz({ policies: [{ name: 'p', rules: [{ from: [{ identities: ['*'] }] }] }] }));
    expect(any(req({ peer: OTHER })).allow).toBe(true);
    expect(any(req({ peer: null })).allow).toBe(false);
    const plain = compileAuthorization(authz({ policies: [{ name: 'p', rules: [{ from: [{ unauthenticated: true }] }] }] }));
    expect(plain(req({ peer: null })).allow).toBe(true);
    expect(plain(req({ peer: WEB })).allow).toBe(false);
  });

  it('matches ports, methods (case-sensitive) and element-wise path prefixes', () => {
    const d = compileAuthorization(
      authz({ policies: [{ name: 'p', rules: [{ to: [{ ports: [8080], methods: ['get'], paths: [{ type: 'prefix', value: '/api' }, { type: 'exact', value: '/health' }] }] }] }] }),
    );
    expect(d(req({ path: '/api' })).allow).toBe(true);
    expect(d(req({ path: '/api/users' })).allow).toBe(true);
    expect(d(req({ path: '/health' })).allow).toBe(true);
    expect(d(req({ path: '/apix' })).allow).toBe(false);
    expect(d(req({ path: '/health/x' })).allow).toBe(false);
    expect(d(req({ path: '/api', port: 9090 })).allow).toBe(false);
    expect(d(req({ path: '/api', method: 'POST' })).allow).toBe(false);
    expect(d(req({ path: '/api', method: 'get' })).allow).toBe(false);
  });

  it('fails closed on every ambiguous path when a rule looks at paths', () => {
    const d = compileAuthorization(authz({ policies: [{ name: 'p', rules: [{ to: [{ paths: [{ type: 'prefix', value: '/public' }] }] }] }] }));
    for (const path of ['/public/../admin', '/public/./x', '/public//x', '/public%2F..%2Fadmin', '/public%2e%2e/admin', '/public\\..\\admin', '/public;/../admin', '/public/%61dmin', '/public/a#frag', '/public/%zz']) {
      expect(d(req({ path })), path).toMatchObject({ allow: false, reason: 'ambiguous-path' });
    }
    expect(d(req({ path: '/public/x.y/..z' })).allow).toBe(true);
    // Without path rules an odd path is not the authorizer's business (routing and the app see it as it is).
    const noPaths = compileAuthorization(authz({ policies: [{ name: 'p', rules: [{ from: [{ identities: [WEB] }] }] }] }));
    expect(noPaths(req({ path: '/a/../b' })).allow).toBe(true);
  });

  it('judges an opaque TCP connection by its caller and port, with the default when no policy selects the workload', () => {
    expect(compileAuthorization(authz({}))(tcp({ peer: null }))).toEqual({ allow: true, policy: '', reason: 'default' });
    expect(compileAuthorization(authz({ defaultAction: 'deny' }))(tcp({}))).toMatchObject({ allow: false, reason: 'default' });
    const d = compileAuthorization(authz({ policies: [{ name: 'demo/db', rules: [{ from: [{ identities: [WEB] }], to: [{ ports: [5432] }] }] }] }));
    expect(d(tcp({ port: 5432 }))).toEqual({ allow: true, policy: 'demo/db', reason: 'policy' });
    expect(d(tcp({ port: 5433 }))).toMatchObject({ allow: false, reason: 'no-match' });
    expect(d(tcp({ port: 5432, peer: OTHER }))).toMatchObject({ allow: false, reason: 'no-match' });
    expect(d(tcp({ port: 5432, peer: null }))).toMatchObject({ allow: false, reason: 'no-match' });
  });

  it('never lets a rule with HTTP-only conditions (methods, paths) allow TCP: it denies, as Istio does', () => {
    for (const to of [{ methods: ['GET'] }, { paths: [{ type: 'prefix', value: '/' }] }, { ports: [8080], methods: ['GET'] }, { ports: [8080], paths: [{ type: 'exact', value: '/x' }] }]) {
      const d = compileAuthorization(authz({ policies: [{ name: 'demo/http', rules: [{ from: [{ identities: [WEB] }, { unauthenticated: true }], to: [to] }] }] }));
      expect(d(tcp({})), JSON.stringify(to)).toEqual({ allow: false, policy: 'demo/http', reason: 'no-match' });
      expect(d(tcp({ peer: null })), JSON.stringify(to)).toMatchObject({ allow: false, reason: 'no-match' });
      // The same rule still allows the HTTP request it names.
      expect(d(req({ path: '/x' })).allow, JSON.stringify(to)).toBe(true);
    }
    // Another condition of the same rule, or another rule, that names only ports and callers does allow TCP.
    const mixed = compileAuthorization(authz({ policies: [{ name: 'p', rules: [{ to: [{ methods: ['GET'] }, { ports: [6379] }] }] }] }));
    expect(mixed(tcp({ port: 6379 })).allow).toBe(true);
    expect(mixed(tcp({ port: 8080 })).allow).toBe(false);
    // A path that would be ambiguous over HTTP has no meaning on TCP: no ambiguous-path denial there.
    const paths = compileAuthorization(authz({ policies: [{ name: 'p', rules: [{ to: [{ paths: [{ type: 'prefix', value: '/a' }] }] }, { from: [{ identities: [WEB] }] }] }] }));
    expect(paths(tcp({}))).toEqual({ allow: true, policy: 'p', reason: 'policy' });
  });

  it('the connection check counts each allowed connection once (not again on a recheck), and counts and logs every denial', async () => {
    const registry = new Registry();
    const lines: { msg: string; fields: Record<string, unknown> }[] = [];
    const logs = new RateLimitedLog(0, () => 0, (_level, msg, fields) => lines.push({ msg, fields }));
    const a = buildAuthorizer(authz({ policies: [{ name: 'demo/db', rules: [{ from: [{ identities: [WEB] }], to: [{ ports: [5432] }] }] }] }), 'inbound', new IdentityMetrics(registry), logs);
    expect(a.connection(WEB, 5432)).toBe(true);
    expect(a.connection(WEB, 5432, true)).toBe(true);
    expect(a.connection(null, 5432)).toBe(false);
    expect(a.connection(OTHER, 5432, true)).toBe(false);
    const text = await registry.metrics();
    expect(text).toContain('skein_authorization_decisions_total{listener="inbound",policy="demo/db",decision="allow",reason="policy"} 1');
    expect(text).toContain('skein_authorization_decisions_total{listener="inbound",policy="demo/db",decision="deny",reason="no-match"} 2');
    expect(lines.map((l) => l.msg)).toEqual(['TCP connection denied by authorization policy', 'open TCP connection closed: no longer allowed by authorization policy']);
    expect(lines[0]!.fields).toMatchObject({ listener: 'inbound', protocol: 'tcp', reason: 'no-match', policies: 'demo/db', caller: 'unauthenticated', port: 5432 });
    expect(lines[1]!.fields).toMatchObject({ caller: OTHER });
  });

  it('refuses configs it cannot enforce as written', () => {
    const r = parseProxyConfig({
      listeners: [
        { name: 'in', port: 0, direction: 'inbound', virtualHosts: [], authorization: { policies: [{ name: 'p', rules: [{ from: [{ identities: ['spiffe://cluster.local/ns/*/sa/x'] }, { unauthenticated: true, namespaces: ['a'] }] }] }] } },
        { name: 'out', port: 0, direction: 'outbound', virtualHosts: [], authorization: {} },
      ],
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.map((p) => p.path)).toEqual([
        'listeners[0].authorization.policies[0].rules[0].from[0].identities[0]',
        'listeners[0].authorization.policies[0].rules[0].from[1]',
        'listeners[1].authorization',
      ]);
    }
  });
});

describe('pathAmbiguity', () => {
  it('passes plain paths', () => {
    for (const p of ['/', '/a/b', '/a.b/c..d', '/a/.well-known/x', '/a-b_c~d']) expect(pathAmbiguity(p), p).toBeNull();
  });
});
