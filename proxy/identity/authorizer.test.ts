// The authorization decision: default allow / deny-when-selected, sources, targets, and paths that fail closed (RELIABILITY #5).
import { describe, expect, it } from 'vitest';
import type { AuthorizationConfig } from '../../api/config/mesh-identity-config.ts';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import { pathAmbiguity } from '../../api/mesh/ambiguous-path.ts';
import { compileAuthorization, type AuthorizationInput } from './authorizer.ts';

const WEB = 'spiffe://cluster.local/ns/demo/sa/web';
const OTHER = 'spiffe://cluster.local/ns/other/sa/web';
const req = (o: Partial<AuthorizationInput>): AuthorizationInput => ({ peer: WEB, port: 8080, method: 'GET', path: '/', ...o });

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
