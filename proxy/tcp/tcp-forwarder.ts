// Forwards an opaque TCP connection to an endpoint of a cluster, byte for byte, with connect and idle timeouts; to a meshed
// endpoint over mesh mTLS whose ALPN says "opaque TCP follows".
import type net from 'node:net';
import type tls from 'node:tls';
import { ORIGINAL_DST } from '../http/listener-context.ts';
import type { OriginalDestination } from '../native/original-destination.ts';
import { classifyUpstreamError, ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { MESH_TCP_ALPN } from '../identity/mesh-transport.ts';
import { connect } from '../upstream/connector.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { destinationRemote, peerLabelsForIdentity } from '../telemetry/peer-labels.ts';
import type { TcpConnectionRecord, TcpRecorder } from '../telemetry/proxy-metrics.ts';

export interface TcpForwardOptions {
  readonly idleTimeoutMs: number;
  /** Counts the connection (opened, closed, bytes both ways); the listener's direction says which end is the remote. */
  readonly metrics?: TcpRecorder;
  /** The client's verified identity (inbound mTLS), or null. */
  readonly peerIdentity?: string | null;
  /** Once, when the upstream side fails before the client closed (refused, timed out, a mesh identity or TLS refusal). */
  onUpstreamError?(e: ProxyError): void;
  onClose?(): void;
}

export function forwardTcp(downstream: net.Socket, cluster: UpstreamCluster, opts: TcpForwardOptions): void {
  const originalDst = (downstream as net.Socket & { [ORIGINAL_DST]?: OriginalDestination | null })[ORIGINAL_DST] ?? null;
  const endpoint = cluster.pick({ hashKey: downstream.remoteAddress ?? null, originalDst });
  if (!endpoint) {
    downstream.destroy();
    return;
  }
  const state = endpoint.state;
  state.active++;
  let record: TcpConnectionRecord | null = null;
  if (opts.metrics !== undefined) {
    const inbound = opts.metrics.inbound;
    const id = opts.peerIdentity ?? null;
    if (inbound) record = opts.metrics.opened(peerLabelsForIdentity(id), id !== null);
    else {
      const dst = destinationRemote(cluster, endpoint);
      record = opts.metrics.opened(dst.labels, dst.mtls);
    }
  }
  const transport = endpoint.tcpTransport;
  const upstream = connect(state, transport, cluster.config.connectTimeoutMs);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    state.active--;
    record?.closed(downstream.bytesRead, downstream.bytesWritten);
    downstream.destroy();
    upstream.destroy();
    opts.onClose?.();
  };
  upstream.once('connect', () => {
    upstream.setTimeout(opts.idleTimeoutMs, close);
    downstream.setTimeout(opts.idleTimeoutMs, close);
  });
  const upstreamFailed = (e: unknown): void => {
    if (!closed) opts.onUpstreamError?.(classifyUpstreamError(e));
    close();
  };
  upstream.on('error', upstreamFailed);
  downstream.on('error', close);
  upstream.once('close', close);
  downstream.once('close', close);
  // pipe() gives back-pressure both ways (and starts the client's bytes flowing); half-close is propagated by 'end'.
  upstream.pipe(downstream);
  if (transport.kind !== 'tls') {
    downstream.pipe(upstream);
    return;
  }
  // A server that did not take the TCP ALPN (one that negotiates none, or an HTTP-only peer) would read the client's bytes
  // as something else: none is sent, not even into the handshake's buffer, until it said "opaque TCP follows".
  upstream.once('secureConnect', () => {
    if ((upstream as tls.TLSSocket).alpnProtocol === MESH_TCP_ALPN) downstream.pipe(upstream);
    else upstreamFailed(new ProxyError(ERRORS.upstreamTls, `the peer did not take ALPN ${MESH_TCP_ALPN}`));
  });
}
