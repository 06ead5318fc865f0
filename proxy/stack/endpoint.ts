// The endpoint stage: sends the attempt over the picked endpoint's pool with the cluster's protocol (HTTP/1.1 or HTTP/2).
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { http1Client } from './http1-client.ts';
import { http2Client } from './http2-client.ts';
import { nodeHttp2Client } from './node-http2-client.ts';
import type { Service } from './service.ts';

/**
 * Which HTTP/2 client sends upstream requests: our own (proxy/http2/client-connection.ts, the default) or, as a fallback
 * while it matures, node:http2's (`SKEIN_HTTP2_CLIENT=node`). Read once at start.
 */
const HTTP2_CLIENT: Service = process.env.SKEIN_HTTP2_CLIENT === 'node' ? nodeHttp2Client : http2Client;

/** The innermost service for a cluster: its protocol's client, or per endpoint port when some ports speak HTTP/2 (h2c). */
export function endpointService(cluster: UpstreamCluster): Service {
  const byProtocol = cluster.config.protocol === 'http2' ? HTTP2_CLIENT : http1Client;
  const h2 = cluster.config.http2Ports;
  if (h2 === undefined || h2.length === 0 || byProtocol === HTTP2_CLIENT) return byProtocol;
  const ports = new Set(h2);
  return (req) => (ports.has(req.endpoint!.state.port) ? HTTP2_CLIENT(req) : byProtocol(req));
}
