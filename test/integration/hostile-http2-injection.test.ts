// RELIABILITY 2 — HTTP/2 -> HTTP/1 injection: malformed HEADERS never reach the HTTP/1 upstream; the stream is reset instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FRAME,
  H2_ERROR,
  RawH2Connection,
  dataFrame,
  errorCodeOf,
  headerBlock,
  headersFrame,
  responseStatus,
} from '../support/h2-frames.ts';
import { http1Get, http2Get } from '../support/raw-http.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';

type Fields = [string, string][];
const pseudo = (method: string, path: string): Fields => [
  [':method', method],
  [':scheme', 'http'],
  [':path', path],
  [':authority', 'example.test'],
];

/** Malformed requests nghttp2 rejects as a stream error: RST_STREAM(PROTOCOL_ERROR), nothing forwarded. */
const RESET_CASES: readonly (readonly [string, (path: string) => Fields])[] = [
  ['CR LF in :path', (p) => pseudo('GET', `${p}\r\nx-injected: 1`)],
  ['space in :path (request-line injection)', (p) => pseudo('GET', `${p} HTTP/1.1\r\nx-injected: 1`)],
  ['NUL in :path', (p) => pseudo('GET', `${p}\x00`)],
  ['relative :path', (p) => pseudo('GET', p.slice(1))],
  ['absolute-form :path', (p) => pseudo('GET', `http://evil.test${p}`)],
  ['empty :path', () => pseudo('GET', '')],
  ['space in :method', (p) => pseudo('GE T', p)],
  ['CR LF in :method', (p) => pseudo('GET /x HTTP/1.1\r\nx-injected: 1\r\n\r\nGET', p)],
  ['missing :path', (p) => pseudo('GET', p).filter(([n]) => n !== ':path')],
  ['duplicate :path', (p) => [...pseudo('GET', p), [':path', '/other']]],
  ['unknown pseudo-header', (p) => [...pseudo('GET', p), [':evil', '1']]],
  ['pseudo-header after a regular header', (p) => [[':method', 'GET'], ['x-a', '1'], [':scheme', 'http'], [':path', p], [':authority', 'example.test']]],
  ['connection header', (p) => [...pseudo('GET', p), ['connection', 'keep-alive']]],
  ['transfer-encoding header', (p) => [...pseudo('POST', p), ['transfer-encoding', 'chunked']]],
  ['keep-alive header', (p) => [...pseudo('GET', p), ['keep-alive', 'timeout=5']]],
  ['upgrade header', (p) => [...pseudo('GET', p), ['upgrade', 'websocket']]],
  ['proxy-connection header', (p) => [...pseudo('GET', p), ['proxy-connection', 'keep-alive']]],
  ['te other than trailers', (p) => [...pseudo('GET', p), ['te', 'gzip']]],
  ['upper-case header name', (p) => [...pseudo('GET', p), ['X-Upper', '1']]],
];

/**
 * Regular headers whose VALUE (or name characters) is invalid: nghttp2 drops the field before Node sees it (RFC 9113
 * allows treating it as malformed; nghttp2 chooses to ignore the field, and Node registers no hook to make it fatal).
 * The request goes on without it, so nothing invalid can reach the HTTP/1 upstream.
 */
const DROPPED_CASES: readonly (readonly [string, readonly [string, string]])[] = [
  ['CR LF in a header value', ['x-a', 'v\r\nx-injected: 1']],
  ['bare LF in a header value', ['x-a', 'v\nx-injected: 1']],
  ['bare CR in a header value', ['x-a', 'v\rx-injected: 1']],
  ['NUL in a header value', ['x-a', 'v\x00x-injected: 1']],
  ['leading space in a header value', ['x-a', ' x-injected']],
  ['colon inside a header name', ['x-injected:1', 'v']],
  ['space inside a header name', ['x-injected 1', 'v']],
];

describe('RELIABILITY 2: HTTP/2 -> HTTP/1 injection', () => {
  let upstream: RawUpstream;
  let proxy: HostileProxy;
  let n = 0;

  beforeAll(async () => {
    upstream = await startRawUpstream();
    proxy = await startHostileProxy({ upstreamPort: upstream.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  const stillServes = async (): Promise<void> => {
    expect((await http2Get(proxy.port, '/healthy-h2')).status).toBe(200);
    expect((await http1Get(proxy.port, '/healthy-h1')).status).toBe(200);
  };

  it.each(RESET_CASES)('%s -> RST_STREAM(PROTOCOL_ERROR), nothing forwarded, connection keeps serving', async (_name, build) => {
    const path = `/reset-${n++}`;
    const c = await RawH2Connection.open(proxy.port);
    try {
      c.send(headersFrame(1, headerBlock(build(path)), { endStream: true }));
      const f = await c.waitForReset(1);
      expect(f?.type).toBe(FRAME.RST_STREAM);
      expect(errorCodeOf(f!)).toBe(H2_ERROR.PROTOCOL_ERROR);
      // Same connection, next stream: a valid request is served, so only the stream was reset.
      c.send(headersFrame(3, headerBlock(pseudo('GET', `${path}-next`)), { endStream: true }));
      const h = await c.waitForFrame((x) => x.type === FRAME.HEADERS && x.streamId === 3);
      expect(responseStatus(h!.payload)).toBe(200);
      expect(c.framesOn(1).some((x) => x.type === FRAME.HEADERS)).toBe(false);
    } finally {
      c.destroy();
    }
    expect(upstream.requests.filter((q) => q.path.startsWith(path) && q.path !== `${path}-next`)).toHaveLength(0);
    expect(upstream.allText()).not.toContain('x-injected');
    await stillServes();
  });

  it.each(DROPPED_CASES)('%s -> the field is dropped by nghttp2; the upstream sees neither it nor an injected header', async (_name, field) => {
    const path = `/dropped-${n++}`;
    const c = await RawH2Connection.open(proxy.port);
    try {
      c.send(headersFrame(1, headerBlock([...pseudo('GET', path), [field[0], field[1]], ['x-kept', 'yes']]), { endStream: true }));
      const h = await c.waitForFrame((x) => x.type === FRAME.HEADERS && x.streamId === 1);
      expect(responseStatus(h!.payload)).toBe(200);
    } finally {
      c.destroy();
    }
    const got = upstream.requests.find((q) => q.path === path)!;
    expect(got.headers.find(([k]) => k === 'x-kept')).toEqual(['x-kept', 'yes']);
    expect(got.headers.find(([k]) => k === 'x-a' || k.startsWith('x-injected'))).toBeUndefined();
    expect(upstream.allText()).not.toContain('x-injected');
    await stillServes();
  });

  it('content-length shorter than DATA -> the connection is ended with GOAWAY (Node reports INTERNAL_ERROR) and no request completes upstream', async () => {
    const path = `/cl-long-${n++}`;
    const c = await RawH2Connection.open(proxy.port);
    c.send(headersFrame(1, headerBlock([...pseudo('POST', path), ['content-length', '3']])), dataFrame(1, 'hello-smuggled', true));
    const f = await c.waitForReset(1);
    // nghttp2 treats DATA beyond content-length as a connection error; Node sends GOAWAY with INTERNAL_ERROR.
    expect(f?.type).toBe(FRAME.GOAWAY);
    expect(errorCodeOf(f!)).toBe(H2_ERROR.INTERNAL_ERROR);
    expect(await c.waitClosed()).toBe(true);
    expect(upstream.requests.filter((q) => q.path === path)).toHaveLength(0);
    expect(upstream.allText()).not.toContain('smuggled');
    await stillServes();
  });

  it('content-length longer than DATA -> RST_STREAM(PROTOCOL_ERROR) and no request completes upstream', async () => {
    const path = `/cl-short-${n++}`;
    const c = await RawH2Connection.open(proxy.port);
    try {
      c.send(headersFrame(1, headerBlock([...pseudo('POST', path), ['content-length', '10']])), dataFrame(1, 'hello', true));
      const f = await c.waitForReset(1);
      expect(f?.type).toBe(FRAME.RST_STREAM);
      expect(errorCodeOf(f!)).toBe(H2_ERROR.PROTOCOL_ERROR);
    } finally {
      c.destroy();
    }
    // The head may already be on its way upstream (bodies stream); the upstream request is aborted, never completed.
    expect(upstream.requests.filter((q) => q.path === path)).toHaveLength(0);
    await stillServes();
  });

  it('DATA on a GET that declared content-length 0 -> connection error, nothing completes upstream', async () => {
    const path = `/cl-zero-${n++}`;
    const c = await RawH2Connection.open(proxy.port);
    c.send(headersFrame(1, headerBlock([...pseudo('GET', path), ['content-length', '0']])), dataFrame(1, 'GET /smuggled HTTP/1.1\r\n\r\n', true));
    const f = await c.waitForReset(1);
    expect(f?.type).toBe(FRAME.GOAWAY);
    expect(await c.waitClosed()).toBe(true);
    expect(upstream.requests.filter((q) => q.path === path || q.path === '/smuggled')).toHaveLength(0);
    await stillServes();
  });

  it('a body containing an HTTP/1 request is forwarded as body bytes only, with regenerated framing', async () => {
    const path = `/body-${n++}`;
    const smuggled = 'GET /smuggled HTTP/1.1\r\nhost: example.test\r\n\r\n';
    const c = await RawH2Connection.open(proxy.port);
    try {
      c.send(headersFrame(1, headerBlock(pseudo('POST', path))), dataFrame(1, smuggled, true));
      const h = await c.waitForFrame((x) => x.type === FRAME.HEADERS && x.streamId === 1);
      expect(responseStatus(h!.payload)).toBe(200);
    } finally {
      c.destroy();
    }
    const got = upstream.requests.find((q) => q.path === path)!;
    expect(got.body.toString('latin1')).toBe(smuggled);
    expect(upstream.requests.filter((q) => q.path === '/smuggled')).toHaveLength(0);
  });
});
