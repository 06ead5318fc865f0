// Which cluster an opaque TCP connection goes to: the Service its original destination (VIP:port) belongs to, else the
// listener's TCP cluster (the sidecar's pass-through).
import type { ListenerSnapshot } from '../http/listener-context.ts';
import type { OriginalDestination } from '../native/original-destination.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';

/**
 * Outbound, a connection to a Service's ClusterIP:port goes to that Service port's own cluster (so to a meshed endpoint over
 * mTLS, expecting the identity discovery gave, as HTTP does): translation names a Service port's virtual host and its
 * cluster alike (clusterName), and the virtual host is what the VIP table points at. HTTP routes do not apply to bytes.
 */
export function tcpTarget(snap: ListenerSnapshot, originalDst: OriginalDestination | null): UpstreamCluster | undefined {
  const services = snap.serviceRoutes;
  if (services != null && originalDst !== null) {
    const service = services.lookup(originalDst);
    const own = service === null ? undefined : snap.clusters.get(service.name);
    if (own !== undefined) return own;
  }
  const name = snap.listener.tcpCluster;
  return name === null ? undefined : snap.clusters.get(name);
}
