// The one place that opens upstream connections, for every protocol (HTTP/1.1 and HTTP/2 pools, opaque TCP, WebSocket).
import net from 'node:net';
import tls from 'node:tls';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';

/** How bytes travel to an endpoint. `tls` is filled by the identity issue (mTLS between proxies). */
export type Transport =
  | { readonly kind: 'plain' }
  | {
      readonly kind: 'tls';
      /** SNI and the name the server certificate must match. */
      readonly servername: string;
      /** The identity expected of the server (SPIFFE ID), or null to check the name only. */
      readonly serverIdentity: string | null;
      /** The secure context holding our client certificate and the trust roots; part of the pool key by its version. */
      readonly context: tls.SecureContext;
      readonly contextVersion: string;
      readonly alpn: readonly string[];
    };

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
  return `${where}|tls|${transport.servername}|${transport.serverIdentity ?? ''}|${transport.contextVersion}|${transport.alpn.join(',')}|${connectTimeoutMs}`;
}

function onConnectTimeout(this: net.Socket & { skeinTarget?: string }): void {
  this.destroy(new ProxyError(ERRORS.connectTimeout, this.skeinTarget));
}

function clearConnectTimer(this: net.Socket & { skeinTimer?: NodeJS.Timeout }): void {
  if (this.skeinTimer !== undefined) clearTimeout(this.skeinTimer);
}

/** Opens a connection; a connect that takes longer than `connectTimeoutMs` is destroyed with SKEIN_ERR_CONNECT_TIMEOUT. */
export function connect(target: ConnectTarget, transport: Transport, connectTimeoutMs: number): net.Socket {
  const { address: host, port } = target;
  const socket: net.Socket =
    transport.kind === 'plain'
      ? net.connect({ host, port, noDelay: true })
      : tls.connect({ host, port, servername: transport.servername, secureContext: transport.context, ALPNProtocols: [...transport.alpn] });
  if (transport.kind === 'tls') socket.setNoDelay(true);
  const s = socket as net.Socket & { skeinTimer?: NodeJS.Timeout; skeinTarget?: string };
  s.skeinTarget = `${host}:${port}`;
  s.skeinTimer = setTimeout(onConnectTimeout.bind(s), connectTimeoutMs);
  socket.once(transport.kind === 'plain' ? 'connect' : 'secureConnect', clearConnectTimer);
  socket.once('close', clearConnectTimer);
  return socket;
}
