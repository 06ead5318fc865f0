// The client side of a connection as the stack sees it: built once per downstream socket and shared by its requests.
import type { Socket } from 'node:net';
import type { ListenerSnapshot } from '../http/listener-context.ts';
import { ORIGINAL_DST, PEER_IDENTITY } from '../http/listener-context.ts';
import type { OriginalDestination } from '../native/original-destination.ts';
import type { DownstreamInfo } from './proxy-request.ts';

const INFO: unique symbol = Symbol('skein.downstreamInfo');
type InfoSocket = Socket & { [INFO]?: DownstreamInfo; [ORIGINAL_DST]?: OriginalDestination | null; [PEER_IDENTITY]?: string; encrypted?: boolean; servername?: unknown };

export function downstreamInfo(socket: Socket | undefined, snap: ListenerSnapshot): DownstreamInfo {
  const s = socket as InfoSocket | undefined;
  const cached = s?.[INFO];
  if (cached !== undefined) return cached;
  const sni = s?.servername;
  const info: DownstreamInfo = {
    listener: snap.listener.name,
    direction: snap.listener.direction,
    clientAddress: s?.remoteAddress ?? '',
    clientPort: s?.remotePort ?? 0,
    localPort: s?.localPort ?? 0,
    tls: s?.encrypted === true,
    sni: typeof sni === 'string' && sni !== '' ? sni.toLowerCase() : null,
    // Set only by the inbound listener after the peer's certificate passed every mesh check.
    peerIdentity: s?.[PEER_IDENTITY] ?? null,
    originalDst: s?.[ORIGINAL_DST] ?? null,
  };
  if (s !== undefined) s[INFO] = info;
  return info;
}
