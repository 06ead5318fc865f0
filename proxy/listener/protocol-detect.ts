// Classifies a new connection from its first bytes: HTTP/1.x, HTTP/2 prior knowledge, TLS, or opaque TCP.
export type DetectedProtocol = 'http1' | 'http2' | 'tls' | 'opaque';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const MAX_METHOD = 24;

const HTTP_MARK = Buffer.from(' HTTP/', 'latin1');

/**
 * After a method token: HTTP/1 unless the first line is already complete and names no HTTP version at all. Such a line
 * (h2spec's "INVALID CONNECTION PREFACE", a client's broken attempt at HTTP/2) is not HTTP/1 and must not get an HTTP/1 400;
 * a line that is HTTP/1 but malformed ("GET / HTTP/1.1 junk") still goes to the HTTP/1 parser, which answers 400.
 */
function requestLine(buf: Buffer, space: number): 'http1' | 'opaque' {
  const lf = buf.indexOf(0x0a, space);
  if (lf < 0) return 'http1';
  const mark = buf.indexOf(HTTP_MARK, space);
  return mark >= 0 && mark < lf ? 'http1' : 'opaque';
}

/** Returns the protocol, or 'need-more' when the bytes so far are a prefix of more than one answer. */
export function detectProtocol(buf: Buffer): DetectedProtocol | 'need-more' {
  if (buf.length === 0) return 'need-more';
  // TLS record: handshake (0x16), major version 3.
  if (buf[0] === 0x16) return buf.length < 2 ? 'need-more' : buf[1] === 0x03 ? 'tls' : 'opaque';
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.compare(H2_PREFACE, 0, n, 0, n) === 0) {
    if (buf.length >= H2_PREFACE.length) return 'http2';
    // "PRI" is also a valid HTTP/1 method token; the full preface decides.
    return 'need-more';
  }
  // HTTP/1: a method token (tchar) followed by a space.
  for (let i = 0; i < buf.length && i <= MAX_METHOD; i++) {
    const c = buf[i]!;
    if (c === 0x20) return i > 0 ? requestLine(buf, i) : 'opaque';
    const tchar = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e || c === 0x21 || c === 0x7e || c === 0x2a || c === 0x2b || c === 0x27 || c === 0x23 || c === 0x24 || c === 0x25 || c === 0x26 || c === 0x5e || c === 0x60 || c === 0x7c;
    if (!tchar) return 'opaque';
  }
  return buf.length > MAX_METHOD ? 'opaque' : 'need-more';
}
