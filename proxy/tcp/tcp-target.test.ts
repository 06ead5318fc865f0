// Which cluster opaque TCP goes to: the Service port's own cluster for a connection to its VIP, else the listener's.
import { describe, expect, it } from 'vitest';
import type { ListenerSnapshot } from '../http/listener-context.ts';
import type { RouteTable } from '../routing/route-table.ts';
import { ServiceRouteTable } from '../routing/service-route-table.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { tcpTarget } from './tcp-target.ts';

const cluster = (name: string) => ({ name }) as unknown as UpstreamCluster;
const SERVICE = 'outbound_6379__redis.demo.svc.cluster.local';
const clusters = new Map([SERVICE, 'outbound-passthrough', 'outbound_80__orphan.demo.svc.cluster.local'].map((n) => [n, cluster(n)]));
const routes = {} as RouteTable;
const snap = (serviceRoutes: ServiceRouteTable | null): ListenerSnapshot =>
  ({ listener: { tcpCluster: 'outbound-passthrough' }, clusters, serviceRoutes }) as unknown as ListenerSnapshot;
const vips = new ServiceRouteTable([
  { name: SERVICE, addresses: ['10.96.0.20'], ports: [6379], routes },
  // A VIP whose virtual host names no cluster (not what translation sends): the listener's TCP cluster, never a drop.
  { name: 'no-such-cluster', addresses: ['10.96.0.21'], ports: [6379], routes },
]);

describe('tcpTarget', () => {
  it("sends a connection to a Service VIP:port to that Service port's own cluster (mesh mTLS where discovery says so)", () => {
    expect(tcpTarget(snap(vips), { address: '10.96.0.20', port: 6379 })?.name).toBe(SERVICE);
  });

  it("anything else goes to the listener's TCP cluster: another port, an unknown address, no original destination, no table", () => {
    expect(tcpTarget(snap(vips), { address: '10.96.0.20', port: 6380 })?.name).toBe('outbound-passthrough');
    expect(tcpTarget(snap(vips), { address: '10.1.2.3', port: 6379 })?.name).toBe('outbound-passthrough');
    expect(tcpTarget(snap(vips), { address: '10.96.0.21', port: 6379 })?.name).toBe('outbound-passthrough');
    expect(tcpTarget(snap(vips), null)?.name).toBe('outbound-passthrough');
    expect(tcpTarget(snap(null), { address: '10.96.0.20', port: 6379 })?.name).toBe('outbound-passthrough');
  });
});
