// The endpoint stage: sends the attempt over the picked endpoint's pool with the cluster's protocol (HTTP/1.1 or HTTP/2).
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { http1Client } from './http1-client.ts';
import { http2Client } from './http2-client.ts';
import type { Service } from './service.ts';

/** The innermost service for a cluster; the HTTP/2 one is one small file so our own HTTP/2 client can replace it. */
export function endpointService(cluster: UpstreamCluster): Service {
  return cluster.config.protocol === 'http2' ? http2Client : http1Client;
}
