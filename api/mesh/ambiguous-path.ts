// Says whether a request path could mean something else to the app than it does to a path rule (RELIABILITY #5).
//
// The proxy forwards the path exactly as received, so a rule is matched against that same text; but an app (or a framework
// in front of it) may decode `%2F`, fold `..` or `//`, cut at `;`, or treat `\` as `/`. Any such path is ambiguous, and a
// policy that looks at paths must fail closed on it rather than guess.

const HEX = /^[0-9A-Fa-f]{2}$/;

/** The reason the path (query excluded) is ambiguous, or null when it reads the same to everyone. */
export function pathAmbiguity(path: string): string | null {
  if (path.charCodeAt(0) !== 47) return 'not origin-form';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const hex = path.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return 'invalid percent-encoding';
      const b = parseInt(hex, 16);
      // Encoded reserved or unsafe characters decode differently across servers; unreserved ones (letters, digits, -._~)
      // decode the same everywhere but still hide a name from an exact or prefix rule.
      return b === 0x2f || b === 0x5c ? 'encoded slash' : b === 0x2e ? 'encoded dot' : b < 0x20 || b === 0x7f ? 'encoded control character' : 'percent-encoding';
    }
    if (c === 0x5c /* \ */) return 'backslash';
    if (c === 0x3b /* ; */) return 'semicolon (path parameters)';
    if (c === 0x23 /* # */) return 'fragment';
    if (c < 0x21 || c === 0x7f) return 'control character or space';
    if (c === 0x2f /* / */) {
      const n = path.charCodeAt(i + 1);
      if (n === 0x2f) return 'empty segment (//)';
      if (n === 0x2e /* . */) {
        const end = path.indexOf('/', i + 1);
        const seg = path.slice(i + 1, end < 0 ? path.length : end);
        if (seg === '.' || seg === '..') return 'dot segment';
      }
    }
  }
  return null;
}
