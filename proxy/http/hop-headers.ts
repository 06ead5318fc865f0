// Header hygiene at each hop: hop-by-hop and connection-specific headers never cross the proxy.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'http2-settings',
  'host',
]);

export type HeaderBag = Record<string, string | string[]>;

/**
 * Copies `src` into a fresh null-prototype object without pseudo-headers, hop-by-hop headers, headers named in
 * Connection, and (when `dropPrefix` is given) headers starting with it. `host` is dropped too: the caller sets the
 * authority explicitly for the upstream protocol.
 */
export function copyEndToEndHeaders(src: Readonly<Record<string, string | string[] | undefined>>, dropPrefix: string | null): HeaderBag {
  const out: HeaderBag = Object.create(null);
  const connection = src.connection;
  let listed: Set<string> | null = null;
  if (connection !== undefined) {
    listed = new Set();
    for (const part of (Array.isArray(connection) ? connection.join(',') : connection).split(',')) {
      const t = part.trim().toLowerCase();
      if (t) listed.add(t);
    }
  }
  for (const name in src) {
    const v = src[name];
    if (v === undefined || name.charCodeAt(0) === 58 /* ':' */ || HOP_BY_HOP.has(name)) continue;
    if (listed !== null && listed.has(name)) continue;
    // Underscore variants too: some upstream stacks (CGI, some frameworks) read x_skein_foo as x-skein-foo.
    if (dropPrefix !== null && (name.startsWith(dropPrefix) || (name.includes('_') && name.replaceAll('_', '-').startsWith(dropPrefix)))) continue;
    out[name] = v;
  }
  return out;
}

/** Applies a route's header mutation in place. */
export function applyHeaderMutation(
  headers: HeaderBag,
  m: { readonly set: Readonly<Record<string, string>>; readonly add: Readonly<Record<string, string>>; readonly remove: readonly string[] },
): void {
  for (const name of m.remove) delete headers[name];
  for (const name in m.set) headers[name] = m.set[name]!;
  for (const name in m.add) {
    const existing = headers[name];
    const v = m.add[name]!;
    // Gateway API's "add": one field value joined with a comma (`my-header: foo,bar`), so every hop and the app see the same
    // single value; a field kept as separate lines (set-cookie) gets one more line.
    headers[name] = existing === undefined ? v : Array.isArray(existing) ? [...existing, v] : `${existing},${v}`;
  }
}
