// Character checks of header fields, shared by the HTTP/1.1 and HTTP/2 codecs: one table lookup per character, no RegExp
// (a RegExp test costs a few hundred instructions of call overhead per field, more than the scan of a short name).

/** Token characters of either case (RFC 9110 5.6.2): what a field name or a method is made of. */
export const TOKEN_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN_CHAR[c.charCodeAt(0)] = 1;

/** A non-empty string of characters that `table` allows (TOKEN_CHAR unless told). */
export function isToken(s: string, table: Uint8Array = TOKEN_CHAR): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || table[c] === 0) return false;
  }
  return true;
}

/** No CR, LF or NUL: a value that cannot end a line or a field, whatever the next hop makes of the rest (RFC 9113 8.2.1). */
export function lineSafe(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0) return false;
  }
  return true;
}
