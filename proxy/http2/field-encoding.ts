// Encodes header fields into an HPACK block for either role (response heads and trailers, request heads and trailers).
import type { HpackEncoder } from './hpack-encoder.ts';

/** Header names never sent on HTTP/2 (RFC 9113 8.2.2); `te` is added back by a client for `te: trailers` only. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings']);

/**
 * Adds fields (names lower-cased; values string, number or lists), skipping pseudo-headers and connection-specific
 * names. False when a name or value holds CR, LF or NUL (RFC 9113 8.2.1): the block must not be sent, and the caller
 * abandons it (`enc.abandon()`, which keeps the HPACK tables of both sides in step). One pass: a name is scanned once
 * for case and safety together, a value only when the encoder writes it out (not when a table holds it).
 */
export function encodeFields(enc: HpackEncoder, headers: Readonly<Record<string, unknown>>): boolean {
  for (const key in headers) {
    const v = headers[key];
    if (v === undefined || v === null) continue;
    const name = fieldName(key);
    if (name === null) return false;
    if (name.charCodeAt(0) === 0x3a || CONNECTION_SPECIFIC.has(name)) continue;
    if (Array.isArray(v)) {
      for (const x of v) if (!enc.field(name, String(x))) return false;
    } else if (!enc.field(name, typeof v === 'string' ? v : String(v))) return false;
  }
  return true;
}

/** `s` in lower case (`s` itself when it already is: `toLowerCase` makes a new string each time), or null when it holds
 *  CR, LF or NUL. */
function fieldName(s: string): string | null {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) upper = true;
    else if (c === 0 || c === 0x0a || c === 0x0d) return null;
  }
  return upper ? s.toLowerCase() : s;
}

/**
 * A trailer block, begun here: false when a field cannot be sent (CR, LF or NUL), the block then abandoned (what both
 * roles do before they end a stream some other way).
 */
export function encodeTrailers(enc: HpackEncoder, trailers: Readonly<Record<string, unknown>>): boolean {
  enc.begin();
  if (encodeFields(enc, trailers)) return true;
  enc.abandon();
  return false;
}

export function isEmptyObject(o: Readonly<Record<string, unknown>>): boolean {
  for (const _ in o) return false;
  return true;
}
