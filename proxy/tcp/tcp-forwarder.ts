// Forwards an opaque TCP connection to an endpoint of a cluster, byte for byte, with connect and idle timeouts.
import net from 'node:net';
import { ORIGINAL_DST } from '../http/listener-context.ts';
import type { OriginalDestination } from '../native/original-destination.ts';
import { connect, PLAIN } from '../upstream/connector.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';

export interface TcpForwardOptions {
  readonly idleTimeoutMs: number;
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
  const upstream = connect(state, PLAIN, cluster.config.connectTimeoutMs);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    state.active--;
    downstream.destroy();
    upstream.destroy();
    opts.onClose?.();
  };
  upstream.once('connect', () => {
    upstream.setTimeout(opts.idleTimeoutMs, close);
    downstream.setTimeout(opts.idleTimeoutMs, close);
  });
  upstream.on('error', close);
  downstream.on('error', close);
  upstream.once('close', close);
  downstream.once('close', close);
  // pipe() gives back-pressure both ways; half-close is propagated by 'end'.
  downstream.pipe(upstream);
  upstream.pipe(downstream);
}
