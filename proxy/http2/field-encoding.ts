// Encodes header fields into an HPACK block for either role (response heads and trailers, request heads and trailers).
import type { HpackEncoder } from './hpack-encoder.ts';

/** Header names never sent on HTTP/2 (RFC 9113 8.2.2); `te` is added back by a client for `te: trailers` only. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings']);

/** Adds fields (lower-cased names; values string, number or lists), checked by `sendable` first. Pseudo-headers are skipped. */
export function encodeFields(enc: HpackEncoder, headers: Readonly<Record<string, unknown>>): void {
  for (const key in headers) {
    const v = headers[key];
    if (v === undefined || v === null) continue;
    const name = lowerCase(key);
    if (name.charCodeAt(0) === 0x3a || CONNECTION_SPECIFIC.has(name)) continue;
    if (Array.isArray(v)) for (const x of v) enc.field(name, String(x));
    else enc.field(name, String(v));
  }
}

/** `s` in lower case; `s` itself when it already is (what every name is but a few from config: `toLowerCase` makes a
 *  new string each time, a string per field per message). */
function lowerCase(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return s.toLowerCase();
  }
  return s;
}

/** No CR, LF or NUL in any name or value (checked before encoding, so an unsendable head leaves HPACK state untouched). */
export function sendable(headers: Readonly<Record<string, unknown>>): boolean {
  for (const key in headers) {
    const v = headers[key];
    if (v === undefined || v === null) continue;
    if (!safe(key)) return false;
    if (Array.isArray(v)) {
      for (const x of v) if (!safe(String(x))) return false;
    } else if (!safe(String(v))) return false;
  }
  return true;
}

export function safe(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
  }
  return true;
}

export function isEmptyObject(o: Readonly<Record<string, unknown>>): boolean {
  for (const _ in o) return false;
  return true;
}
