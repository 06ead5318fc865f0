// The headers a request carries upstream: end-to-end headers plus x-forwarded-*, x-request-id, trust by direction.
import type { ListenerDirection } from '../../api/config/proxy-config.ts';
import { copyEndToEndHeaders, type HeaderBag } from '../http/hop-headers.ts';
import { trustedForwardedEntries } from '../policy/client-address.ts';
import { requestId } from './request-id.ts';

/** The caller's verified mesh identity, as the app behind an inbound sidecar sees it. */
export const CLIENT_ID_HEADER = 'x-skein-client-id';

/**
 * Builds the upstream request headers: end-to-end headers, forwarding headers, request id, the route's changes.
 * `peerIdentity` is the caller's identity verified by mTLS on this connection (null: none): only then does the request
 * carry `x-skein-client-id`, whatever the client sent (RELIABILITY #6). `trustedHops` (ingress): how many proxies in
 * front of the listener are trusted to have appended to x-forwarded-for.
 */
export function upstreamRequestHeaders(
  direction: ListenerDirection,
  clientHeaders: Readonly<Record<string, string | string[] | undefined>>,
  client: string,
  encrypted: boolean,
  peerIdentity: string | null = null,
  trustedHops = 0,
): HeaderBag {
  // Our own x-skein-* headers can't be trusted from outside the mesh: drop them at inbound and ingress.
  const headers = copyEndToEndHeaders(clientHeaders, direction === 'outbound' ? null : 'x-skein-');
  if (direction === 'outbound') {
    // The local app's requests keep their x-skein-* headers, but never a client identity it could have made up.
    for (const name in headers) {
      if (name.length === CLIENT_ID_HEADER.length && (name === CLIENT_ID_HEADER || name.replaceAll('_', '-') === CLIENT_ID_HEADER)) delete headers[name];
    }
  }
  if (peerIdentity !== null) headers[CLIENT_ID_HEADER] = peerIdentity;
  if (direction === 'ingress') {
    // The edge trusts nothing the client says about the path so far: none of its forwarding headers survive, except the
    // x-forwarded-for entries (and the x-forwarded-proto) that the configured trusted proxies in front wrote.
    const kept = trustedForwardedEntries(clientHeaders['x-forwarded-for'], trustedHops);
    const proto = trustedHops > 0 ? lastValue(clientHeaders['x-forwarded-proto']) : undefined;
    for (const name in headers) {
      const n = name.includes('_') ? name.replaceAll('_', '-') : name;
      if (n.startsWith('x-forwarded-') || n === 'forwarded') delete headers[name];
    }
    kept.push(client);
    headers['x-forwarded-for'] = kept.join(', ');
    headers['x-forwarded-proto'] = proto === 'https' || proto === 'http' ? proto : encrypted ? 'https' : 'http';
    headers['x-request-id'] = requestId();
  } else {
    const xff = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = xff === undefined ? client : `${Array.isArray(xff) ? xff.join(', ') : xff}, ${client}`;
    if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = encrypted ? 'https' : 'http';
    if (headers['x-request-id'] === undefined) headers['x-request-id'] = requestId();
  }
  return headers;
}


/** The last comma-separated value of a header (what the nearest proxy wrote), lower case. */
function lastValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = Array.isArray(v) ? v.join(',') : v;
  return s.slice(s.lastIndexOf(',') + 1).trim().toLowerCase();
}
