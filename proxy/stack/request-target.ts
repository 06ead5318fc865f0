// Validates a downstream request's target and authority (RELIABILITY 7: host confusion) before anything is routed.
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { DownstreamRequest } from '../http/http-rescue.ts';
import { PEER_IDENTITY } from '../http/listener-context.ts';
import type { Http1Request } from '../http1/server-connection.ts';
import { misdirected } from './misdirected.ts';
import { normalizePath } from './path-normalize.ts';

export function headerString(v: unknown): string | undefined {
  // Node's HTTP/1 header object has a prototype: an absent "constructor" header reads as a function, not a string.
  return Array.isArray(v) ? v[0] : typeof v === 'string' ? v : undefined;
}

/**
 * Validates the request target and authority (RELIABILITY 7: host confusion), returning [authority, path] or an error.
 * `normalize` (the ingress) also puts the path in canonical form first (RELIABILITY 5, path-normalize.ts).
 * `listenerHostnames` (the listener's TLS config) narrows the 421 to a Host that selects another listener (misdirected.ts).
 */
export function requestTarget(req: DownstreamRequest, normalize = false, listenerHostnames?: readonly string[]): ProxyError | readonly [string, string] {
  let authority: string | undefined;
  let path: string = req.url ?? '';
  if (req.httpVersionMajor === 2) {
    const a = headerString(req.headers[':authority']);
    const host = headerString(req.headers.host);
    if (a !== undefined && host !== undefined && a.toLowerCase() !== host.toLowerCase()) {
      return new ProxyError(ERRORS.badRequest, ':authority and host differ');
    }
    authority = a ?? host;
  } else {
    const raw = (req as Http1Request).rawHeaders;
    let hosts = 0;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
    if (hosts > 1) return new ProxyError(ERRORS.badRequest, 'duplicate Host');
    authority = headerString(req.headers.host);
    if (path.charCodeAt(0) !== 47 /* '/' */) {
      // absolute-form: http://host/path — its host must agree with Host.
      const m = /^https?:\/\/([^/?#]+)([^#]*)$/i.exec(path);
      if (!m) return new ProxyError(ERRORS.badRequest, 'invalid request target');
      if (authority !== undefined && authority.toLowerCase() !== m[1]!.toLowerCase()) {
        return new ProxyError(ERRORS.badRequest, 'absolute URI host differs from Host');
      }
      authority = m[1]!;
      path = m[2] || '/';
    }
    if (authority === undefined && req.httpVersionMinor >= 1) return new ProxyError(ERRORS.badRequest, 'missing Host');
  }
  if (!authority || authority.length > 255 || /[\s@/\\]/.test(authority)) return new ProxyError(ERRORS.badRequest, 'invalid authority');
  if (path.charCodeAt(0) !== 47) return new ProxyError(ERRORS.badRequest, 'invalid path');
  if (normalize) {
    const p = normalizePath(path);
    if (p instanceof ProxyError) return p;
    path = p;
  }
  // Where we terminated TLS, the request must be for the name the handshake was for (a coalesced HTTP/2 connection
  // or a forged Host would otherwise reach another site with this site's TLS); 421 tells the client to reconnect.
  // Mesh mTLS is exempt: it authenticates the workload, not a host name, and a sidecar dials by IP (no SNI to match).
  const socket = req.socket as { servername?: unknown; [PEER_IDENTITY]?: string } | undefined;
  const sni = socket?.servername;
  if (typeof sni === 'string' && sni !== '' && socket?.[PEER_IDENTITY] === undefined && misdirected(listenerHostnames, sni.toLowerCase(), hostWithoutPort(authority))) {
    return new ProxyError(ERRORS.misdirected, 'Host differs from TLS SNI');
  }
  return [authority, path] as const;
}

export function hostWithoutPort(authority: string): string {
  const end = authority.charCodeAt(0) === 91 /* '[' */ ? authority.indexOf(']') + 1 : authority.lastIndexOf(':');
  return (end > 0 && end < authority.length ? authority.slice(0, end) : authority).toLowerCase();
}

