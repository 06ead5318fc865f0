// Which transport reaches an endpoint: mesh mTLS expecting its identity (with our current certificate), or plain text.
import type { ClusterConfig, EndpointConfig, UpstreamProtocol } from '../../api/config/proxy-config.ts';
import type { Transport } from '../upstream/connector.ts';
import type { WorkloadTls } from './workload-tls.ts';

/** The identity to expect of `ep`: its own, else the cluster's; null when the cluster has no mesh TLS or none is known. */
export function meshEndpointIdentity(cluster: ClusterConfig, ep: EndpointConfig): string | null {
  if (cluster.meshTls == null) return null;
  return ep.identity ?? cluster.meshTls.identity ?? null;
}

/**
 * The ALPN that says "opaque TCP follows" inside a mesh mTLS session: the inbound sidecar forwards the bytes after the
 * handshake to the app's port as they are, instead of reading them as HTTP (docs/identity.md, "Opaque TCP over mTLS").
 */
export const MESH_TCP_ALPN = 'skein-tcp/1';

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

/** The same transport for an opaque TCP connection: mesh mTLS announces the TCP ALPN; plain text stays plain. */
export function meshTcpTransport(t: Transport): Transport {
  return t.kind === 'tls' ? { ...t, alpn: [MESH_TCP_ALPN] } : t;
}
