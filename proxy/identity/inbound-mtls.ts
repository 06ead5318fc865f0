// The inbound side of mesh mTLS: which mode applies to a connection (per app port), and the verdict on a client's chain.
import type net from 'node:net';
import type tls from 'node:tls';
import type { InboundMtlsConfig, InboundMtlsMode } from '../../api/config/mesh-identity-config.ts';
import { ORIGINAL_DST, PEER_IDENTITY } from '../http/listener-context.ts';
import type { OriginalDestination } from '../native/original-destination.ts';
import type { HandshakeFailureReason } from './identity-metrics.ts';
import { peerIntermediates, verifyPeerCertificate } from './peer-certificate.ts';
import { chainReason, type WorkloadTls } from './workload-tls.ts';

/** The app port a connection was headed to: its original destination's port (redirected), else the port it reached. */
export function destinationPort(socket: net.Socket): number {
  const dst = (socket as net.Socket & { [ORIGINAL_DST]?: OriginalDestination | null })[ORIGINAL_DST] ?? null;
  return dst?.port ?? socket.localPort ?? 0;
}

/** The verified mesh identity of a connection's client, or null when it did not arrive over verified mTLS. */
export function verifiedPeer(socket: net.Socket): string | null {
  return (socket as net.Socket & { [PEER_IDENTITY]?: string })[PEER_IDENTITY] ?? null;
}

/** The mode for a connection: its app port's override (the original destination's port), else the listener's. */
export function inboundMtlsMode(mtls: InboundMtlsConfig, socket: net.Socket): InboundMtlsMode {
  if (mtls.ports.length === 0) return mtls.mode;
  const port = destinationPort(socket);
  for (const p of mtls.ports) if (p.port === port) return p.mode;
  return mtls.mode;
}

export type ClientVerdict =
  | { readonly ok: true; readonly identity: string }
  | { readonly ok: false; readonly kind: HandshakeFailureReason; readonly reason: string };

/**
 * Judges the client certificate of a finished handshake against the bundle in use now (our own chain walk, so a resumed
 * session or a bundle that changed since the session began never passes on an old verdict) and the mesh SAN rules.
 */
export function verifyMeshClient(socket: tls.TLSSocket, wt: WorkloadTls, nowMs: number): ClientVerdict {
  const leaf = socket.getPeerX509Certificate();
  if (leaf === undefined) return { ok: false, kind: 'peer-untrusted', reason: 'no client certificate' };
  const intermediates = peerIntermediates(socket);
  const chain = chainReason(leaf, intermediates, wt.roots, nowMs);
  if (chain !== null) return { ok: false, kind: 'peer-untrusted', reason: chain };
  const v = verifyPeerCertificate(leaf, { role: 'client', identity: null, trustDomain: wt.trustDomain }, nowMs);
  return v.ok ? v : { ok: false, kind: 'peer-identity', reason: v.reason };
}
