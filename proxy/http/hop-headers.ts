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
 * The prototype of every header object made by `newHeaderBag`: empty, frozen, itself without a prototype. So no name is
 * inherited (`__proto__`, `constructor`, `toString` are ordinary header names, as in `Object.create(null)`), while V8
 * keeps the object's fast properties: a null-prototype object is a dictionary in V8 (a hash table grown as fields are
 * added, and a fresh key array for every `for...in`), about 1 KiB of garbage per header object and four times the time
 * to fill one (measured with 8 headers). Header objects were the largest source of the proxy's garbage per request.
 */
const HeaderBagPrototype: object = Object.freeze(Object.create(null) as object);
const Bag = function HeaderBag(): void {} as unknown as { new (): HeaderBag; prototype: object };
Bag.prototype = HeaderBagPrototype;

/** A fresh, empty header object (see `HeaderBagPrototype`). */
export function newHeaderBag(): HeaderBag {
  return new Bag();
}

/**
 * Copies `src` into a fresh header object (`newHeaderBag`) without pseudo-headers, hop-by-hop headers, headers named in
 * Connection, and (when `dropPrefix` is given) headers starting with it. `host` is dropped too: the caller sets the
 * authority explicitly for the upstream protocol.
 */
export function copyEndToEndHeaders(src: Readonly<Record<string, string | string[] | undefined>>, dropPrefix: string | null): HeaderBag {
  const out = newHeaderBag();
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
