import { describe, expect, it } from 'vitest';
import { detectProtocol } from './protocol-detect.ts';

describe('detectProtocol', () => {
  it.each([
    ['GET / HTTP/1.1\r\n', 'http1'],
    ['POST /x HTTP/1.1\r\n', 'http1'],
    ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'http2'],
    ['PRI * HTTP/2.0\r\n', 'need-more'],
    ['GE', 'need-more'],
    [' GET', 'opaque'],
    ['\x00\x01binary', 'opaque'],
    ['\x16\x03\x01\x02\x00', 'tls'],
    ['\x16\x01', 'opaque'],
    ['A'.repeat(40), 'opaque'],
    ['GET /a-long-path-still-arriving', 'http1'],
    ['GET / HTTP/1.0\n', 'http1'],
    // h2spec 3.5/2: an invalid HTTP/2 preface is a dropped connection, not an HTTP/1 400.
    ['INVALID CONNECTION PREFACE\r\n\r\n', 'opaque'],
    ['GET /\r\n', 'opaque'],
  ])('%j -> %s', (input, expected) => {
    expect(detectProtocol(Buffer.from(input, 'latin1'))).toBe(expected);
  });
});
