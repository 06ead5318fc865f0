// The one place that opens upstream connections, for every protocol (HTTP/1.1 and HTTP/2 pools, opaque TCP, WebSocket).
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { parseSpiffeId } from '../../api/proto/identity.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { verifyPeerCertificate } from '../identity/peer-certificate.ts';
import type { OriginatedTls } from './upstream-tls.ts';

/** How bytes travel to an endpoint: plain, TLS (mesh mTLS between sidecars), or refused before any byte. */
export type Transport =
  | { readonly kind: 'plain' }
  | {
      readonly kind: 'tls';
      /** SNI ('' for none: mesh endpoints are dialled by IP, and the identity, not a name, is what is checked). */
      readonly servername: string;
      /**
       * The SPIFFE id the server's certificate must carry as its one URI SAN, or null to check the name only. Checked in
       * the handshake (checkServerIdentity), on top of OpenSSL's chain check against the context's roots.
       */
      readonly serverIdentity: string | null;
      /** The secure context holding our client certificate and the trust roots; part of the pool key by its version. */
      readonly context: tls.SecureContext;
      readonly contextVersion: string;
      readonly alpn: readonly string[];
    }
  /** A meshed endpoint while this proxy has no workload certificate: never fall back to plain text. */
  | { readonly kind: 'unavailable'; readonly reason: string }
  /**
   * TLS originated to the endpoint's own server (a BackendTLSPolicy), carried by `under`: plain TCP, or mesh mTLS that
   * announces opaque TCP to a meshed endpoint (its sidecar hands the bytes to the app's port as they are).
   */
  | {
      readonly kind: 'originate';
      readonly under: PlainOrMeshTransport;
      readonly tls: OriginatedTls;
    };

export type PlainOrMeshTransport = Extract<Transport, { kind: 'plain' } | { kind: 'tls' }>;

export const PLAIN: Transport = { kind: 'plain' };

export interface ConnectTarget {
  readonly address: string;
  readonly port: number;
}

/**
 * Every input that makes two connections interchangeable: a pool keyed by this can never hand out a connection made for
 * another transport, identity or certificate version.
 */
export function poolKey(target: ConnectTarget, transport: Transport, connectTimeoutMs: number): string {
  const where = target.address.includes(':') ? `[${target.address}]:${target.port}` : `${target.address}:${target.port}`;
  if (transport.kind === 'plain') return `${where}|plain|${connectTimeoutMs}`;
  if (transport.kind === 'unavailable') return `${where}|unavailable|${connectTimeoutMs}`;
  if (transport.kind === 'originate') return `${poolKey(target, transport.under, connectTimeoutMs)}|originate|${transport.tls.servername}|${transport.tls.version}|${transport.tls.alpn.join(',')}`;
  return `${where}|tls|${transport.servername}|${transport.serverIdentity ?? ''}|${transport.contextVersion}|${transport.alpn.join(',')}|${connectTimeoutMs}`;
}

function onConnectTimeout(this: net.Socket & { skeinTarget?: string }): void {
  this.destroy(new ProxyError(ERRORS.connectTimeout, this.skeinTarget));
}

function clearConnectTimer(this: net.Socket & { skeinTimer?: NodeJS.Timeout }): void {
  if (this.skeinTimer !== undefined) clearTimeout(this.skeinTimer);
}

/** checkServerIdentity for mesh mTLS: the peer's one URI SAN must EQUAL the expected SPIFFE id (`this`), EKU serverAuth. */
function checkMeshServer(this: string, _host: string, cert: tls.PeerCertificate): Error | undefined {
  const trustDomain = parseSpiffeId(this)?.trustDomain ?? '';
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert.raw);
  } catch {
    return new ProxyError(ERRORS.peerIdentity, 'unreadable certificate');
  }
  const v = verifyPeerCertificate(x509, { role: 'server', identity: this, trustDomain }, Date.now());
  return v.ok ? undefined : new ProxyError(ERRORS.peerIdentity, v.reason);
}

function refuse(this: net.Socket & { skeinRefusal?: ProxyError }): void {
  this.destroy(this.skeinRefusal);
}

/**
 * Opens a connection; a connect that takes longer than `connectTimeoutMs` is destroyed with SKEIN_ERR_CONNECT_TIMEOUT.
 * `onread`: the bytes read go to its callback instead of 'data' events (read-regions.ts); plain and mesh TLS only (an
 * originated TLS socket and a refused one ignore it and emit 'data').
 */
export function connect(target: ConnectTarget, transport: Transport, connectTimeoutMs: number, onread?: net.OnReadOpts): net.Socket {
  const { address: host, port } = target;
  if (transport.kind === 'unavailable') {
    // A socket that fails on the next tick, as a refused connect would: the pools and clients handle it like any other.
    const s = new net.Socket() as net.Socket & { skeinRefusal?: ProxyError };
    s.skeinRefusal = new ProxyError(ERRORS.noWorkloadCertificate, transport.reason);
    process.nextTick(refuse.bind(s));
    return s;
  }
  if (transport.kind === 'originate') return originate(target, transport, connectTimeoutMs);
  const socket: net.Socket =
    transport.kind === 'plain'
      ? net.connect({ host, port, noDelay: true, ...(onread !== undefined ? { onread } : {}) })
      : tls.connect({
          host,
          port,
          ...(onread !== undefined ? { onread } : {}),
          ...(transport.servername !== '' ? { servername: transport.servername } : {}),
          secureContext: transport.context,
          ALPNProtocols: [...transport.alpn],
          // Never resume: a resumed session skips checkServerIdentity and would carry a verdict made before a bundle change.
          ...(transport.serverIdentity !== null ? { checkServerIdentity: checkMeshServer.bind(transport.serverIdentity) } : {}),
        });
  if (transport.kind === 'tls') socket.setNoDelay(true);
  const s = socket as net.Socket & { skeinTimer?: NodeJS.Timeout; skeinTarget?: string };
  s.skeinTarget = `${host}:${port}`;
  s.skeinTimer = setTimeout(onConnectTimeout.bind(s), connectTimeoutMs);
  socket.once(transport.kind === 'plain' ? 'connect' : 'secureConnect', clearConnectTimer);
  socket.once('close', clearConnectTimer);
  return socket;
}

function forwardUnderError(this: tls.TLSSocket, e: Error): void {
  this.destroy(e);
}

/**
 * TLS to the app over the connection `under` makes: the connect timeout covers both handshakes; a failure of the carrier
 * (refused, mesh identity, timeout) ends the inner socket with that error, so the pools see one socket and one cause.
 */
function originate(target: ConnectTarget, transport: Extract<Transport, { kind: 'originate' }>, connectTimeoutMs: number): net.Socket {
  const under = connect(target, transport.under, connectTimeoutMs);
  const t = transport.tls;
  const socket = tls.connect({
    socket: under,
    servername: t.servername,
    secureContext: t.context,
    ALPNProtocols: [...t.alpn],
    checkServerIdentity: t.checkServerIdentity,
  });
  under.once('error', forwardUnderError.bind(socket));
  socket.setNoDelay(true);
  const s = socket as net.Socket & { skeinTimer?: NodeJS.Timeout; skeinTarget?: string };
  s.skeinTarget = `${target.address}:${target.port}`;
  s.skeinTimer = setTimeout(onConnectTimeout.bind(s), connectTimeoutMs);
  socket.once('secureConnect', clearConnectTimer);
  socket.once('close', clearConnectTimer);
  return socket;
}
