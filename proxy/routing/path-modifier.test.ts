// Redirect and rewrite paths: Gateway API's ReplaceFullPath and ReplacePrefixMatch (element-wise, one slash between the
// new prefix and the rest, the query kept), and the Location of a redirecting route.
import { describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { DownstreamInfo } from '../stack/proxy-request.ts';
import { ProxyRequest } from '../stack/proxy-request.ts';
import { redirectResponse } from '../stack/redirect.ts';
import { changePath, compilePathModifier } from './path-modifier.ts';
import { RouteTable } from './route-table.ts';

function routes(list: Record<string, unknown>[]) {
  const parsed = parseProxyConfig({
    listeners: [{ name: 'l', port: 0, virtualHosts: [{ name: 'vh', domains: ['*'], routes: list }] }],
    clusters: [{ name: 'c', endpoints: [{ address: '127.0.0.1', port: 1 }] }],
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return { table: new RouteTable(parsed.value.listeners[0]!.virtualHosts), config: parsed.value.listeners[0]!.virtualHosts[0]!.routes };
}

const prefix = (match: string, value: string) => {
  const { config } = routes([{ name: 'r', match: { path: { type: 'prefix', value: match } }, backends: [{ cluster: 'c' }], rewrite: { path: { type: 'prefix', value } } }]);
  return compilePathModifier(config[0]!.rewrite!.path, config[0]!)!;
};

describe('path modifiers', () => {
  it('ReplacePrefixMatch replaces the matched prefix element-wise', () => {
    expect(prefix('/api', '/v2')('/api/users')).toBe('/v2/users');
    expect(prefix('/api', '/v2')('/api')).toBe('/v2');
    expect(prefix('/api/', '/v2/')('/api/users')).toBe('/v2/users');
    expect(prefix('/api', '/')('/api/users')).toBe('/users');
    expect(prefix('/api', '/')('/api')).toBe('/');
    expect(prefix('/', '/v2')('/users')).toBe('/v2/users');
    expect(prefix('/', '/v2')('/')).toBe('/v2');
    expect(changePath(prefix('/api', '/v2'), '/api/x?q=1&r=/api')).toBe('/v2/x?q=1&r=/api');
  });

  it('ReplaceFullPath replaces the whole path and keeps the query', () => {
    const { config } = routes([{ name: 'r', backends: [{ cluster: 'c' }], rewrite: { path: { type: 'full', value: '/one' } } }]);
    expect(changePath(compilePathModifier(config[0]!.rewrite!.path, config[0]!)!, '/a/b?x=1')).toBe('/one?x=1');
  });

  it('the config refuses a prefix modifier without a prefix match, and a route that both redirects and rewrites', () => {
    const bad = parseProxyConfig({
      listeners: [{ name: 'l', port: 0, virtualHosts: [{ name: 'vh', routes: [
        { name: 'a', match: { path: { type: 'exact', value: '/x' } }, backends: [{ cluster: 'c' }], rewrite: { path: { type: 'prefix', value: '/y' } } },
        { name: 'b', redirect: { statusCode: 301 }, rewrite: { hostname: 'x' } },
        { name: 'c', redirect: { path: { type: 'full', value: 'no-slash' } } },
      ] }] }],
      clusters: [{ name: 'c' }],
    });
    expect(bad.ok ? [] : bad.error.map((p) => p.path)).toEqual([
      'listeners[0].virtualHosts[0].routes[2].redirect.path.value',
    ]);
    const bad2 = parseProxyConfig({
      listeners: [{ name: 'l', port: 0, virtualHosts: [{ name: 'vh', routes: [
        { name: 'a', match: { path: { type: 'exact', value: '/x' } }, backends: [{ cluster: 'c' }], rewrite: { path: { type: 'prefix', value: '/y' } } },
        { name: 'b', redirect: { statusCode: 301 }, rewrite: { hostname: 'x' } },
      ] }] }],
      clusters: [{ name: 'c' }],
    });
    expect(bad2.ok ? [] : bad2.error).toEqual([
      { path: 'listeners[0].virtualHosts[0].routes[0].rewrite.path', message: 'type "prefix" replaces the matched prefix: the route needs a match.path of type "prefix"' },
      { path: 'listeners[0].virtualHosts[0].routes[1].rewrite', message: 'a route that redirects does not forward: redirect and rewrite exclude each other' },
    ]);
  });
});

describe('redirect answers', () => {
  const downstream = (tls: boolean): DownstreamInfo => ({ listener: 'l', direction: 'outbound', clientAddress: '127.0.0.1', clientPort: 1, tls, sni: null, peerIdentity: null, originalDst: null });
  function location(redirect: Record<string, unknown>, authority: string, path: string, tls = false, match: Record<string, unknown> = { path: { type: 'prefix', value: '/old' } }) {
    const { table } = routes([{ name: 'r', match, redirect }]);
    const req = new ProxyRequest('GET', authority, path, Object.create(null), null, downstream(tls), false, 0);
    const route = table.route({ authority, method: 'GET', path: path.split('?')[0]!, query: '', headers: {} })!;
    const res = redirectResponse(req, route);
    return `${res.status} ${res.headers.location as string}`;
  }

  it('builds Location from the request and the redirect, keeping the query', () => {
    expect(location({}, 'echo.demo', '/old/x?a=1')).toBe('302 http://echo.demo/old/x?a=1');
    expect(location({ statusCode: 301, hostname: 'new.example' }, 'echo.demo:8080', '/old/x')).toBe('301 http://new.example:8080/old/x');
    expect(location({ scheme: 'https' }, 'echo.demo:8080', '/old')).toBe('302 https://echo.demo/old');
    expect(location({ scheme: 'https', port: 8443 }, 'echo.demo', '/old')).toBe('302 https://echo.demo:8443/old');
    expect(location({ port: 80 }, 'echo.demo:8080', '/old')).toBe('302 http://echo.demo/old');
    expect(location({ path: { type: 'prefix', value: '/new' } }, 'echo.demo', '/old/x/y?z')).toBe('302 http://echo.demo/new/x/y?z');
    expect(location({ path: { type: 'full', value: '/moved' } }, 'echo.demo', '/old/x')).toBe('302 http://echo.demo/moved');
    expect(location({}, 'echo.demo', '/old', true)).toBe('302 https://echo.demo/old');
  });
});
