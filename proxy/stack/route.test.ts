// Routing simulation: request descriptions pushed through a compiled config without sockets (VIP:port -> service routes,
// then Host-based routes, then the catch-all pass-through).
import { describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { ListenerSnapshot } from '../http/listener-context.ts';
import { ProxyError } from '../errors/proxy-error.ts';
import { RouteTable } from '../routing/route-table.ts';
import { ServiceRouteTable } from '../routing/service-route-table.ts';
import type { DownstreamInfo } from './proxy-request.ts';
import { ProxyRequest } from './proxy-request.ts';
import { pickRoute } from './route.ts';

const vhost = (name: string, domains: string[], route: string, cluster: string) => ({
  name,
  domains,
  routes: [{ name: route, match: { path: { type: 'prefix', value: '/' } }, backends: [{ cluster, weight: 1 }] }],
});

const parsed = parseProxyConfig({
  admin: { address: '127.0.0.1', port: 0 },
  listeners: [
    {
      name: 'out',
      address: '127.0.0.1',
      port: 0,
      direction: 'outbound',
      virtualHosts: [vhost('by-host', ['reviews.test'], 'reviews-by-host', 'reviews'), vhost('passthrough', ['*'], 'passthrough', 'orig')],
    },
    // Only to have the service's routes parsed with their defaults.
    { name: 'vip-routes', address: '127.0.0.1', port: 0, direction: 'outbound', virtualHosts: [vhost('ratings-vip', ['*'], 'ratings-by-vip', 'ratings')] },
  ],
  clusters: [
    { name: 'reviews', endpoints: [{ address: '127.0.0.1', port: 1 }] },
    { name: 'ratings', endpoints: [{ address: '127.0.0.1', port: 2 }] },
    { name: 'orig', type: 'original-destination' },
  ],
});
if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
const config = parsed.value;
const listener = config.listeners[0]!;
const ratingsRoutes = new RouteTable(config.listeners[1]!.virtualHosts);

const snap: ListenerSnapshot = {
  mode: 'sidecar',
  listener,
  limits: config.limits,
  routes: new RouteTable(listener.virtualHosts),
  clusters: new Map(),
  needsOriginalDst: true,
  serviceRoutes: new ServiceRouteTable([{ name: 'ratings', addresses: ['10.96.0.20'], ports: [9080], routes: ratingsRoutes }]),
};

function request(authority: string, originalDst: { address: string; port: number } | null): ProxyRequest {
  const downstream: DownstreamInfo = { listener: 'out', direction: 'outbound', clientAddress: '127.0.0.1', clientPort: 1, tls: false, sni: null, peerIdentity: null, originalDst };
  return new ProxyRequest('GET', authority, '/x?y=1', Object.create(null), null, downstream, false, 0);
}

const routeName = (r: ReturnType<typeof pickRoute>): string => (r instanceof ProxyError ? `error ${r.message}` : r.name);

describe('route stage target resolution', () => {
  it('a destination that is a service VIP:port takes that service\'s routes, whatever the Host says', () => {
    expect(routeName(pickRoute(snap, request('reviews.test', { address: '10.96.0.20', port: 9080 })))).toBe('ratings-by-vip');
  });

  it('an unknown destination (or another port of the VIP) falls back to Host-based routes, then to pass-through', () => {
    expect(routeName(pickRoute(snap, request('reviews.test', { address: '10.96.0.20', port: 80 })))).toBe('reviews-by-host');
    expect(routeName(pickRoute(snap, request('other.test', { address: '10.1.2.3', port: 9080 })))).toBe('passthrough');
  });

  it('without an original destination only Host-based routes apply', () => {
    expect(routeName(pickRoute(snap, request('reviews.test', null)))).toBe('reviews-by-host');
    expect(routeName(pickRoute({ ...snap, serviceRoutes: null }, request('x.test', { address: '10.96.0.20', port: 9080 })))).toBe('passthrough');
  });
});
