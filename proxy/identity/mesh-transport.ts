// Which transport reaches an endpoint: mesh mTLS expecting its identity (with our current certificate), or plain text.
import type { ClusterConfig, EndpointConfig, UpstreamProtocol } from '../../api/config/proxy-config.ts';
import type { Transport } from '../upstream/connector.ts';
import type { WorkloadTls } from './workload-tls.ts';

/** The identity to expect of `ep`: its own, else the cluster's; null when the cluster has no mesh TLS or none is known. */
export function meshEndpointIdentity(cluster: ClusterConfig, ep: EndpointConfig): string | null {
  if (cluster.meshTls == null) return null;
  return ep.identity ?? cluster.meshTls.identity ?? null;
}

/** mTLS 1.3 toward a meshed endpoint, ALPN by the cluster's protocol; refused (never plain) while we have no certificate. */
export function meshTransport(wt: WorkloadTls | null, identity: string, protocol: UpstreamProtocol): Transport {
  if (wt === null) return { kind: 'unavailable', reason: `expected peer ${identity}` };
  return {
    kind: 'tls',
    servername: '',
    serverIdentity: identity,
    context: wt.context,
    contextVersion: wt.version,
    alpn: protocol === 'http2' ? ['h2'] : ['http/1.1'],
  };
}
