// Unit tests for the HTTP/1.1 codec: head parsing, framing decisions, body decoding and head serialization.
import { describe, expect, it } from 'vitest';
import { BODY_ERROR, BodyDecoder } from './body-decoder.ts';
import { ByteAccumulator } from './byte-accumulator.ts';
import { HEAD_BAD, HEAD_TOO_LARGE, findHeadEnd, parseRequestHead, parseResponseHead, type RequestHead } from './head-parser.ts';
import { UnsafeHeaderError, fieldLines } from './head-writer.ts';

function req(text: string, maxCount = 100): RequestHead | number {
  const buf = Buffer.from(text, 'latin1');
  const end = findHeadEnd(buf, 0, 65_536);
  if (end < 0) return end;
  return parseRequestHead(buf, 0, end, maxCount);
}

function decode(kind: 'length' | 'chunked', length: number, ...parts: string[]): { body: string; end: number; done: boolean; trailers: unknown } {
  const d = new BodyDecoder(kind, length, 1024);
  let body = '';
  let end = 0;
  for (const p of parts) {
    end = d.feed(Buffer.from(p, 'latin1'), 0, (c) => (body += c.toString('latin1')));
    if (end === BODY_ERROR) break;
  }
  return { body, end, done: d.done, trailers: d.trailers };
}

describe('request heads', () => {
  it('parses a request line, lower-cases names, joins repeats and keeps raw headers', () => {
    const h = req('GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n') as RequestHead;
    expect(h.method).toBe('GET');
    expect(h.target).toBe('/a?b=1');
    expect(h.minor).toBe(1);
    expect(h.headers['x-a']).toBe('1, 2');
    expect(h.headers.cookie).toBe('a=1; b=2');
    expect(h.rawHeaders).toEqual(['Host', 'x', 'X-A', '1', 'x-a', '2', 'Cookie', 'a=1', 'Cookie', 'b=2']);
    expect(Object.getPrototypeOf(h.headers)).toBeNull();
    expect(h.contentLength).toBe(-1);
    expect(h.close).toBe(false);
  });

  it('decides framing: Content-Length, chunked, HTTP/1.0 close, upgrade', () => {
    expect((req('POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n') as RequestHead).contentLength).toBe(12);
    expect((req('POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n') as RequestHead).chunked).toBe(true);
    expect((req('GET / HTTP/1.0\r\n\r\n') as RequestHead).close).toBe(true);
    expect((req('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n') as RequestHead).close).toBe(false);
    expect((req('GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n') as RequestHead).upgrade).toBe(true);
    expect((req('GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n') as RequestHead).upgrade).toBe(false);
  });

  it.each([
    ['CL + TE', 'POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['two CLs', 'POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n'],
    ['CL list', 'POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n'],
    ['CL sign', 'POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n'],
    ['CL 16 digits', 'POST / HTTP/1.1\r\nContent-Length: 1234567890123456\r\n\r\n'],
    ['TE list', 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'],
    ['TE twice', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['TE in 1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n'],
    ['space before colon', 'GET / HTTP/1.1\r\nX : a\r\n\r\n'],
    ['NUL in value', 'GET / HTTP/1.1\r\nX: a\0b\r\n\r\n'],
    ['VT in value', 'GET / HTTP/1.1\r\nX:\x0ba\r\n\r\n'],
    ['bare CR', 'GET / HTTP/1.1\r\nX: a\rY: b\r\n\r\n'],
    ['HTTP/1.2', 'GET / HTTP/1.2\r\n\r\n'],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\n\r\n'],
    ['extra token', 'GET / HTTP/1.1 x\r\n\r\n'],
    ['two spaces', 'GET  / HTTP/1.1\r\n\r\n'],
    ['8-bit target', 'GET /\xe9 HTTP/1.1\r\n\r\n'],
    ['empty name', 'GET / HTTP/1.1\r\n: a\r\n\r\n'],
  ])('%s -> bad', (_n, text) => {
    expect(req(text)).toBe(HEAD_BAD);
  });

  it('refuses a bare LF before the head is complete, and a head over the byte limit', () => {
    expect(findHeadEnd(Buffer.from('GET / HTTP/1.1\nHost: x\n'), 0, 1000)).toBe(-1 - HEAD_BAD);
    expect(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n'), 0, 1000)).toBe(-1);
    expect(findHeadEnd(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(100)}`), 0, 50)).toBe(-1 - HEAD_TOO_LARGE);
    expect(findHeadEnd(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(100)}\r\n\r\n`), 0, 50)).toBe(-1 - HEAD_TOO_LARGE);
  });

  it('counts fields against the limit', () => {
    const two = 'GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n';
    expect(typeof req(two, 2)).toBe('object');
    expect(req(two, 1)).toBe(HEAD_TOO_LARGE);
  });
});

describe('a head arriving one byte at a time', () => {
  /** Feeds `text` a byte per read the way the connections do; returns findHeadEnd's first non-(-1) answer. */
  function trickle(text: string): { end: number; stores: number } {
    const acc = new ByteAccumulator(65_536);
    const stores = new Set<ArrayBufferLike>();
    let held: Buffer | null = null;
    let scanned = 0;
    for (const ch of Buffer.from(text, 'latin1')) {
      held = acc.append(held, Buffer.from([ch]));
      stores.add(held.buffer);
      const end = findHeadEnd(held, 0, 65_536, scanned);
      if (end !== -1) return { end, stores: stores.size };
      scanned = held.length;
    }
    return { end: -1, stores: stores.size };
  }

  it('finds the same end as a single read, copying into a few growing buffers rather than one per byte', () => {
    const text = `GET / HTTP/1.1\r\nHost: x\r\n${'X-Pad: 0123456789\r\n'.repeat(200)}\r\nBODY`;
    const r = trickle(text);
    expect(r.end).toBe(text.indexOf('\r\n\r\n') + 4);
    expect(r.stores).toBeLessThan(20);
  });

  it('still refuses a bare LF, and finds a blank line whose bytes came in separate reads', () => {
    expect(trickle('GET / HTTP/1.1\r\nHost: x\nY: z\r\n\r\n').end).toBe(-1 - HEAD_BAD);
    expect(trickle('GET / HTTP/1.1\r\nHost: x\r\n\r\n').end).toBe(27);
  });
});

describe('response heads', () => {
  const res = (text: string): ReturnType<typeof parseResponseHead> => {
    const buf = Buffer.from(text, 'latin1');
    return parseResponseHead(buf, 0, findHeadEnd(buf, 0, 65_536), 100);
  };
  it('parses status, framing and set-cookie as a list', () => {
    const h = res('HTTP/1.1 404 Not Found\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 3\r\n\r\n');
    expect(typeof h).toBe('object');
    if (typeof h === 'number') return;
    expect(h.status).toBe(404);
    expect(h.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(h.contentLength).toBe(3);
  });
  it('accepts an empty reason; refuses junk status lines and smuggling framing', () => {
    expect(typeof res('HTTP/1.1 204\r\n\r\n')).toBe('object');
    expect(res('HTTP/1.1 20 OK\r\n\r\n')).toBe(HEAD_BAD);
    expect(res('HTTP/1.1 200OK\r\n\r\n')).toBe(HEAD_BAD);
    expect(res('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n')).toBe(HEAD_BAD);
  });
});

describe('bodies', () => {
  it('Content-Length: stops at the length, across reads', () => {
    expect(decode('length', 5, 'he', 'llo-next')).toMatchObject({ body: 'hello', end: 3, done: true });
  });
  it('chunked: drops extensions, collects trailers, ends after the blank line', () => {
    const r = decode('chunked', 0, '3;ext=1\r\nabc\r\n2\r', '\nde\r\n0\r\nX-T: 1\r\n\r\nNEXT');
    expect(r).toMatchObject({ body: 'abcde', done: true, trailers: { 'x-t': '1' } });
    expect(r.end).toBe('\nde\r\n0\r\nX-T: 1\r\n\r\n'.length);
  });
  it('chunked: a read of many tiny chunks is handed out as one piece', () => {
    const d = new BodyDecoder('chunked', 0, 1024);
    const pieces: string[] = [];
    const text = `${'1\r\na\r\n'.repeat(1000)}0\r\n\r\n`;
    expect(d.feed(Buffer.from(text), 0, (c) => pieces.push(c.toString()))).toBe(text.length);
    expect(pieces).toEqual(['a'.repeat(1000)]);
  });

  it.each([
    ['junk after size', '5x\r\nhello\r\n0\r\n\r\n'],
    ['0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['negative', '-5\r\nhello\r\n0\r\n\r\n'],
    ['overflow', '1ffffffffffffffff\r\n'],
    ['data longer than size', '2\r\nhello\r\n'],
    ['bare LF after size', '5\nhello\r\n'],
    ['huge extension', `5;${'x'.repeat(5000)}\r\n`],
    ['request line in trailers', '0\r\nX: y\r\nGET /s HTTP/1.1\r\n\r\n'],
    ['CTL in extension', '5;a\0\r\nhello\r\n'],
  ])('chunked %s -> error', (_n, text) => {
    expect(decode('chunked', 0, text).end).toBe(BODY_ERROR);
  });
});

describe('head serialization', () => {
  it('writes fields, repeats arrays, skips framing fields we generate', () => {
    expect(fieldLines({ a: '1', 'set-cookie': ['x', 'y'], connection: 'close', 'transfer-encoding': 'chunked', n: 5 })).toBe('a: 1\r\nset-cookie: x\r\nset-cookie: y\r\nn: 5\r\n');
  });
  it('refuses values that would end a line and names that are not tokens', () => {
    expect(() => fieldLines({ a: 'x\r\nInjected: 1' })).toThrow(UnsafeHeaderError);
    expect(() => fieldLines({ 'a b': 'x' })).toThrow(UnsafeHeaderError);
    // Each character that can end a line or a field, alone and at either end of a value.
    for (const bad of ['\r', '\n', '\0', 'x\n', '\nx', 'x\0y']) expect(() => fieldLines({ a: bad }), JSON.stringify(bad)).toThrow(UnsafeHeaderError);
    for (const bad of ['', 'a:b', 'caf\u00e9', 'x\u0100', 'a\tb']) expect(() => fieldLines({ [bad]: 'v' }), JSON.stringify(bad)).toThrow(UnsafeHeaderError);
    expect(fieldLines({ "X-Ok!#$%&'*+-.^_`|~09": 'tab\tand spaces are fine' })).toBe("X-Ok!#$%&'*+-.^_`|~09: tab\tand spaces are fine\r\n");
  });
});
