// RELIABILITY 2 — HTTP/2 -> HTTP/1 injection: malformed HEADERS never reach the HTTP/1 upstream; the stream is reset instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FRAME,
  H2_ERROR,
  RawH2Connection,
  SETTING,
  dataFrame,
  errorCodeOf,
  frame,
  headerBlock,
  headersFrame,
  hpackIndexed,
  hpackInt,
  pingFrame,
  requestFields,
  responseStatus,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
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

/** Malformed requests (RFC 9113 8.1.1, 8.3.1): a stream error, RST_STREAM(PROTOCOL_ERROR), nothing forwarded. */
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
 * Regular fields whose value (or name) is invalid (RFC 9113 8.2.1): the request is malformed, so the stream is reset and
 * nothing is forwarded (RELIABILITY 2). node:http2 dropped such a field and forwarded the rest of the request.
 */
const INVALID_FIELD_CASES: readonly (readonly [string, readonly [string, string]])[] = [
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

  it.each(INVALID_FIELD_CASES)('%s -> RST_STREAM(PROTOCOL_ERROR); the upstream sees neither the request nor an injected header', async (_name, field) => {
    const path = `/invalid-field-${n++}`;
    const c = await RawH2Connection.open(proxy.port);
    try {
      c.send(headersFrame(1, headerBlock([...pseudo('GET', path), [field[0], field[1]], ['x-kept', 'yes']]), { endStream: true }));
      const f = await c.waitForReset(1);
      expect(f?.type).toBe(FRAME.RST_STREAM);
      expect(errorCodeOf(f!)).toBe(H2_ERROR.PROTOCOL_ERROR);
      c.send(headersFrame(3, headerBlock(pseudo('GET', `${path}-next`)), { endStream: true }));
      const h = await c.waitForFrame((x) => x.type === FRAME.HEADERS && x.streamId === 3);
      expect(responseStatus(h!.payload)).toBe(200);
    } finally {
      c.destroy();
    }
    expect(upstream.requests.filter((q) => q.path === path)).toHaveLength(0);
    expect(upstream.allText()).not.toContain('x-injected');
    await stillServes();
  });

  it('content-length shorter than DATA -> the connection is ended with GOAWAY(PROTOCOL_ERROR) and no request completes upstream', async () => {
    const path = `/cl-long-${n++}`;
    const c = await RawH2Connection.open(proxy.port);
    c.send(headersFrame(1, headerBlock([...pseudo('POST', path), ['content-length', '3']])), dataFrame(1, 'hello-smuggled', true));
    const f = await c.waitForReset(1);
    // DATA beyond content-length is a malformed request that may be smuggling: the connection ends (node:http2 said INTERNAL_ERROR).
    expect(f?.type).toBe(FRAME.GOAWAY);
    expect(errorCodeOf(f!)).toBe(H2_ERROR.PROTOCOL_ERROR);
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

  describe('HTTP/2 framing violations end the connection with the RFC 9113 error code', () => {
    const req = (id: number, path: string): Buffer => headersFrame(id, headerBlock(requestFields(path)), { endStream: true });
    const CASES: readonly (readonly [string, number, () => Buffer[]])[] = [
      ['HEADERS on an even (server) stream id', H2_ERROR.PROTOCOL_ERROR, () => [req(2, '/v-even')]],
      ['PUSH_PROMISE from a client', H2_ERROR.PROTOCOL_ERROR, () => [req(1, '/v-pp'), frame(FRAME.PUSH_PROMISE, 4, 1, Buffer.concat([Buffer.from([0, 0, 0, 2]), headerBlock(requestFields('/v-push'))]))]],
      ['DATA on stream 0', H2_ERROR.PROTOCOL_ERROR, () => [dataFrame(0, 'x')]],
      ['HEADERS on stream 0', H2_ERROR.PROTOCOL_ERROR, () => [req(0, '/v-zero')]],
      ['SETTINGS whose length is not a multiple of 6', H2_ERROR.FRAME_SIZE_ERROR, () => [frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(5))]],
      ['SETTINGS_ENABLE_PUSH = 2', H2_ERROR.PROTOCOL_ERROR, () => [settingsFrame([[SETTING.ENABLE_PUSH, 2]])]],
      ['SETTINGS_INITIAL_WINDOW_SIZE = 2^31', H2_ERROR.FLOW_CONTROL_ERROR, () => [settingsFrame([[SETTING.INITIAL_WINDOW_SIZE, 0x80000000]])]],
      ['SETTINGS_MAX_FRAME_SIZE = 1', H2_ERROR.PROTOCOL_ERROR, () => [settingsFrame([[SETTING.MAX_FRAME_SIZE, 1]])]],
      ['PING of 7 bytes', H2_ERROR.FRAME_SIZE_ERROR, () => [frame(FRAME.PING, 0, 0, Buffer.alloc(7))]],
      ['a frame header announcing 16 MiB', H2_ERROR.FRAME_SIZE_ERROR, () => [frame(FRAME.DATA, 0, 1, Buffer.alloc(10), 0xffffff)]],
      ['a frame over the 16 KiB max frame size', H2_ERROR.FRAME_SIZE_ERROR, () => [frame(FRAME.HEADERS, 5, 1, Buffer.alloc(20_000))]],
      ['RST_STREAM on an idle stream', H2_ERROR.PROTOCOL_ERROR, () => [rstStreamFrame(7, H2_ERROR.CANCEL)]],
      ['WINDOW_UPDATE on an idle stream', H2_ERROR.PROTOCOL_ERROR, () => [windowUpdateFrame(9, 100)]],
      ['DATA after END_STREAM', H2_ERROR.STREAM_CLOSED, () => [req(1, '/v-closed'), dataFrame(1, 'late')]],
      ['HPACK index beyond both tables', H2_ERROR.COMPRESSION_ERROR, () => [headersFrame(1, Buffer.concat([headerBlock(requestFields('/v-idx')), hpackIndexed(5000)]), { endStream: true })]],
      ['HPACK table size update above the advertised size', H2_ERROR.COMPRESSION_ERROR, () => [headersFrame(1, Buffer.concat([hpackInt(1 << 20, 5, 0x20), headerBlock(requestFields('/v-tsu'))]), { endStream: true })]],
      ['padding longer than the frame', H2_ERROR.PROTOCOL_ERROR, () => [frame(FRAME.HEADERS, 0x4 | 0x8 | 0x1, 1, Buffer.concat([Buffer.from([200]), headerBlock(requestFields('/v-pad'))]))]],
      ['PING after a bad-length PING ACK', H2_ERROR.FRAME_SIZE_ERROR, () => [frame(FRAME.PING, 1, 0, Buffer.alloc(9)), pingFrame()]],
    ];

    it.each(CASES)('%s -> GOAWAY(%i), closed, nothing forwarded', async (_name, code, build) => {
      const before = upstream.requests.length;
      const c = await RawH2Connection.open(proxy.port);
      await c.handshake();
      c.send(...build());
      const g = await c.waitForFrame((f) => f.type === FRAME.GOAWAY);
      expect(g && errorCodeOf(g)).toBe(code);
      expect(await c.waitClosed()).toBe(true);
      expect(upstream.requests.slice(before).filter((q) => q.path.startsWith('/v-') && q.path !== '/v-closed' && q.path !== '/v-pp')).toHaveLength(0);
      await stillServes();
    });

    it('a stream id lower than one already used is never forwarded', async () => {
      const c = await RawH2Connection.open(proxy.port);
      try {
        await c.handshake();
        c.send(req(5, '/v-five'), req(3, '/v-three'));
        const h = await c.waitForFrame((f) => f.type === FRAME.HEADERS && f.streamId === 5);
        expect(responseStatus(h!.payload)).toBe(200);
        c.send(req(7, '/v-seven'));
        await c.waitForFrame((f) => f.type === FRAME.HEADERS && f.streamId === 7);
      } finally {
        c.destroy();
      }
      expect(upstream.requests.filter((q) => q.path === '/v-three')).toHaveLength(0);
    });
  });
});
