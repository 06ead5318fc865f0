// The answer of a redirecting route (Gateway API RequestRedirect): a 3xx with a Location built from the request and the
// route's redirect (scheme, host, port, path; the query kept), without an upstream.
import type { HeaderBag } from '../http/hop-headers.ts';
import type { CompiledRoute } from '../routing/route-table.ts';
import { changePath } from '../routing/path-modifier.ts';
import { stripPort } from '../routing/route-table.ts';
import type { ProxyRequest } from './proxy-request.ts';
import { ProxyResponse } from './proxy-response.ts';

const WELL_KNOWN: Readonly<Record<string, number>> = { http: 80, https: 443 };

/** The port of an authority (`host:port`, `[v6]:port`), or null when it names none. */
function authorityPort(authority: string): number | null {
  const host = stripPort(authority);
  if (host.length === authority.length) return null;
  const n = Number(authority.slice(host.length + 1));
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : null;
}

export function redirectResponse(req: ProxyRequest, route: CompiledRoute): ProxyResponse {
  const r = route.config.redirect!;
  const requestScheme = req.downstream.tls ? 'https' : 'http';
  const scheme = r.scheme ?? requestScheme;
  const host = r.hostname ?? stripPort(req.authority);
  // Gateway API: no port given -> the scheme's well-known port when the scheme is given, else the request's port.
  const port = r.port ?? (r.scheme !== null ? WELL_KNOWN[scheme]! : (authorityPort(req.authority) ?? req.downstream.originalDst?.port ?? WELL_KNOWN[requestScheme]!));
  const path = route.redirectPath === null ? req.path : changePath(route.redirectPath, req.path);
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const location = `${scheme}://${hostPart}${port === WELL_KNOWN[scheme] ? '' : `:${port}`}${path}`;
  const headers: HeaderBag = Object.create(null);
  headers.location = location;
  headers['content-length'] = '0';
  return new ProxyResponse(r.statusCode, headers, null);
}
