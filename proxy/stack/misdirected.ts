// Decides whether a request's Host belongs on a TLS connection made for another name (SNI): the 421 of RFC 9110 15.5.20.

/**
 * The most specific of a port's listener hostnames that `name` falls under (Gateway API listener precedence: an exact
 * name, then the longest `*.suffix`, then `*`, a listener without hostname), or null when none does.
 */
export function selectListenerHostname(hostnames: readonly string[], name: string): string | null {
  let best: string | null = null;
  let bestRank = -1;
  for (const h of hostnames) {
    let rank: number;
    if (h === '*') rank = 0;
    else if (h.charCodeAt(0) === 42 /* '*' */) {
      // `*.example.com` takes any name under it (one label or more), never example.com itself.
      if (name.length < h.length || !name.endsWith(h.slice(1))) continue;
      rank = h.length;
    } else if (h === name) rank = Number.MAX_SAFE_INTEGER;
    else continue;
    if (rank > bestRank) {
      best = h;
      bestRank = rank;
    }
  }
  return best;
}

/**
 * Is a request for `host` (lower case, no port) misdirected on a connection whose SNI was `sni` (lower case)?
 * Without the listeners' hostnames (a hand-written ingress, Ingress objects): whenever the two differ. With them (the
 * Gateway API's GatewayHTTPSListenerDetectMisdirectedRequests): only when Host selects another listener than SNI did,
 * because the certificate and the routes are the listener's: a client that reached a listener without hostname by an
 * unknown SNI may ask it for any host it serves, and one `*.example.com` certificate covers all of its names.
 */
export function misdirected(listenerHostnames: readonly string[] | undefined, sni: string, host: string): boolean {
  if (host === sni) return false;
  if (listenerHostnames === undefined) return true;
  return selectListenerHostname(listenerHostnames, sni) !== selectListenerHostname(listenerHostnames, host);
}
