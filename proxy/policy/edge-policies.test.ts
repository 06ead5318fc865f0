// The edge policies compose in the documented order, a route's policy replaces its listener's, and unset costs no layer.
import { describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { ProxyError } from '../errors/proxy-error.ts';
import { RouteTable } from '../routing/route-table.ts';
import type { RouteTarget } from '../stack/policy-slot.ts';
import { ProxyRequest, type DownstreamInfo } from '../stack/proxy-request.ts';
import { ProxyResponse } from '../stack/proxy-response.ts';
import { stack, type Layer, type Service } from '../stack/service.ts';
import type { EdgeHttpCall } from './edge-http-client.ts';
import { EdgePolicies } from './edge-policies.ts';

function targets(listenerEdge: unknown, routeEdge: unknown): RouteTarget[] {
  const r = parseProxyConfig({
    mode: 'ingress',
    listeners: [
      {
        name: 'l',
        port: 0,
        edge: listenerEdge,
        virtualHosts: [{ name: 'v', routes: [{ name: 'own', match: { path: { type: 'prefix', value: '/own' } }, backends: [{ cluster: 'c' }], edge: routeEdge }, { name: 'inherits', backends: [{ cluster: 'c' }] }] }],
      },
    ],
    clusters: [{ name: 'c', endpoints: [{ address: '127.0.0.1', port: 1 }] }],
  });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  const listener = r.value.listeners[0]!;
  const table = new RouteTable(listener.virtualHosts);
  return table.virtualHost('a.test')!.routes.map((route) => ({ listener, route }));
}

const downstream: DownstreamInfo = { listener: 'l', direction: 'ingress', clientAddress: '192.0.2.1', clientPort: 1, tls: false, sni: null, peerIdentity: null, originalDst: null };
const ok: Service = () => Promise.resolve(new ProxyResponse(200, {}, null));

function serve(target: RouteTarget, edge: EdgePolicies): Service {
  const layers: Layer[] = [];
  edge.layers(target, layers);
  return stack(layers, ok);
}

async function cause(svc: Service, headers: Record<string, string> = {}, method = 'GET'): Promise<string | number> {
  try {
    return (await svc(new ProxyRequest(method, 'a.test', '/', { ...headers }, null, downstream, false, 0, headers))).status;
  } catch (e) {
    return (e as ProxyError).spec.cause;
  }
}

describe('edge policies', () => {
  it('no edge policy: no layer at all', () => {
    const layers: Layer[] = [];
    new EdgePolicies().layers(targets(undefined, undefined)[0]!, layers);
    expect(layers).toEqual([]);
  });

  it('order: ip filter, then cors preflight, then jwt, then ext authz', async () => {
    const calls: string[] = [];
    const call: EdgeHttpCall = () => {
      calls.push('authz');
      return Promise.resolve({ status: 200, headers: {}, body: Buffer.alloc(0) });
    };
    const edge = new EdgePolicies(call, () => 0);
    const [, inherits] = targets(
      {
        ipFilter: { deny: ['198.51.100.0/24'] },
        cors: { allowOrigins: ['https://app.test'], allowMethods: ['GET'] },
        jwt: { jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tAxhNGAMVhN_ek5amFbaFtpz8jW0' }] } },
        extAuthz: { url: 'http://authz.test' },
      },
      undefined,
    );
    const svc = serve(inherits!, edge);
    // A denied address is refused before anything else looks at the request.
    const denied = await svc(new ProxyRequest('OPTIONS', 'a.test', '/', {}, null, { ...downstream, clientAddress: '198.51.100.7' }, false, 0, { origin: 'https://app.test', 'access-control-request-method': 'GET' })).catch((e: ProxyError) => e.spec.cause);
    expect(denied).toBe('ip-denied');
    // A preflight is answered before the JWT layer (no token needed) and the authorization service is not asked.
    expect(await cause(svc, { origin: 'https://app.test', 'access-control-request-method': 'GET' }, 'OPTIONS')).toBe(200);
    // Without a token: the JWT layer refuses before the authorization service is asked.
    expect(await cause(svc)).toBe('jwt-missing');
    expect(calls).toEqual([]);
  });

  it("a route's own policy replaces its listener's of the same kind; other kinds are inherited", async () => {
    const edge = new EdgePolicies();
    const [own, inherits] = targets({ ipFilter: { deny: ['192.0.2.0/24'] }, cors: { allowOrigins: ['*'] } }, { ipFilter: { allow: ['192.0.2.0/24'] } });
    expect(await cause(serve(own!, edge))).toBe(200);
    expect(await cause(serve(inherits!, edge))).toBe('ip-denied');
    const res = await serve(own!, edge)(new ProxyRequest('GET', 'a.test', '/', {}, null, downstream, false, 0, { origin: 'https://x.test' }));
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });
});
