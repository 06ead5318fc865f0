// The canonical form of a request path at the edge (RELIABILITY 5): what route matching and authorization see is what is
// forwarded, and anything two servers could read differently is refused rather than guessed.
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';

const HEX = '0123456789ABCDEF';
const BAD_ESCAPE = new ProxyError(ERRORS.badRequest, 'invalid percent-encoding in path');
const ENCODED_SEPARATOR = new ProxyError(ERRORS.badRequest, 'encoded slash, backslash or NUL in path');
const AMBIGUOUS = new ProxyError(ERRORS.badRequest, 'backslash, semicolon or fragment in path');

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~" (decoding them never changes the meaning). */
function unreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
}

/**
 * Normalizes an origin-form target (`/path?query`): percent-encoded unreserved characters decoded and other escapes
 * upper-cased (RFC 3986 6.2.2), `//` merged, `.` and `..` segments resolved (never above the root). Refused (400):
 * a malformed escape; `%2F`, `%5C` or `%00` (a backend that decodes them would see another path); a raw `\` (some servers
 * read it as `/`); `;` (path parameters: `/admin;x` is `/admin` to some servers and not to our matcher); `#`. The query
 * is kept as it is. Returns the input itself when it is already canonical (the common case allocates nothing).
 */
export function normalizePath(target: string): string | ProxyError {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  let simple = true;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 37 /* % */ || c === 92 /* \ */ || c === 59 /* ; */ || c === 35 /* # */) simple = false;
    else if (c === 47 /* / */ && (path.charCodeAt(i + 1) === 47 || path.charCodeAt(i + 1) === 46)) simple = false;
  }
  if (simple) return target;
  // Decode what can be decoded, refuse what is ambiguous.
  let decoded = '';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 92 || c === 59 || c === 35) return AMBIGUOUS;
    if (c !== 37) {
      decoded += path[i];
      continue;
    }
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return BAD_ESCAPE;
    const b = hi * 16 + lo;
    if (b === 0x2f || b === 0x5c || b === 0) return ENCODED_SEPARATOR;
    decoded += unreserved(b) ? String.fromCharCode(b) : `%${HEX[hi]}${HEX[lo]}`;
    i += 2;
  }
  // Resolve dot segments and merge empty ones (RFC 3986 5.2.4, with `//` as `/`).
  const out: string[] = [];
  const segments = decoded.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else if (s === '.' || s === '') {
      if (last) out.push('');
    } else out.push(s);
  }
  const normalized = `/${out.join('/')}`;
  return q < 0 ? normalized : normalized + target.slice(q);
}
