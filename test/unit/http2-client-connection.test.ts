// Our HTTP/2 client connection driven by a scripted server peer over loopback (frames in, frames out): streams, SETTINGS
// limits, GOAWAY, RST_STREAM, PING keepalive, flow control both ways, trailers, idle close; and the pool above it.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HeaderBag } from '../../proxy/http/hop-headers.ts';
import { Http2ClientConnection, type ClientConnectionOwner, type ClientStreamHandler, type Http2ClientOptions } from '../../proxy/http2/client-connection.ts';
import { HpackDecoder } from '../../proxy/http2/hpack-decoder.ts';
import { Http2Pool } from '../../proxy/upstream/http2-pool.ts';
import type { Transport } from '../../proxy/upstream/connector.ts';
import { makeTestCert, type TestCert } from '../support/test-cert.ts';
import { until } from '../support/until.ts';
import {
  FLAG,
  FRAME,
  continuationFrame,
  FrameReader,
  H2_ERROR,
  PREFACE,
  SETTING,
  dataFrame,
  errorCodeOf,
  frame,
  headerBlock,
  headersFrame,
  pingFrame,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  type Frame,
} from '../support/h2-frames.ts';

/** A received frame, with its header block decoded (in arrival order, so the HPACK table stays in step). */
type PeerFrame = Frame & { fields?: [string, string][] };

/** The server side of one connection, scripted by the test. */
class Peer {
  readonly socket: net.Socket;
  readonly frames: PeerFrame[] = [];
  readonly #reader = new FrameReader();
  readonly #decoder = new HpackDecoder();
  #preface = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  closed = false;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.#preface.length < PREFACE.length) {
        const all = Buffer.concat([this.#preface, chunk]);
        this.#preface = all.subarray(0, Math.min(all.length, PREFACE.length));
        if (all.length < PREFACE.length) return;
        expect(this.#preface.equals(PREFACE)).toBe(true);
        chunk = all.subarray(PREFACE.length);
      }
      for (const f of this.#reader.push(chunk) as PeerFrame[]) {
        if (f.type === FRAME.HEADERS) {
          const fields: [string, string][] = [];
          this.#decoder.decode(f.payload, (n, v) => fields.push([n, v]));
          f.fields = fields;
        }
        this.frames.push(f);
      }
      this.#wake();
    });
  }

  send(...bufs: Buffer[]): void {
    this.socket.write(Buffer.concat(bufs));
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** The first frame matching `pred` (received so far or later); fails the test after 5 s. */
  async waitFor(pred: (f: PeerFrame) => boolean, what: string): Promise<PeerFrame> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (this.closed || Date.now() > deadline) throw new Error(`no ${what} (closed: ${this.closed})`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  async closedByClient(): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection not closed');
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** Sends a PING and waits for its ACK: everything sent before it has been processed by the client. */
  async sync(tag: number): Promise<void> {
    const data = Buffer.alloc(8);
    data.writeUInt32BE(tag, 4);
    this.send(pingFrame(data));
    await this.waitFor((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) !== 0 && f.payload.readUInt32BE(4) === tag, `PING ACK ${tag}`);
  }
}

/** Records what one stream's handler is told. */
class Recorder implements ClientStreamHandler {
  status = 0;
  headers: HeaderBag | null = null;
  bodyEndedWithHead = false;
  body = '';
  trailers: HeaderBag | null = null;
  ended = false;
  error: Error | null = null;
  retryable: boolean | null = null;
  drains = 0;
  /** onData answers this (false: push back). */
  accept = true;
  readonly done: Promise<void>;
  #done!: () => void;

  constructor() {
    this.done = new Promise<void>((r) => (this.#done = r));
  }

  onResponse(status: number, headers: HeaderBag, endStream: boolean): void {
    this.status = status;
    this.headers = headers;
    this.bodyEndedWithHead = endStream;
  }
  onData(chunk: Buffer): boolean {
    this.body += chunk.toString();
    return this.accept;
  }
  onEnd(trailers: HeaderBag | null): void {
    this.trailers = trailers;
    this.ended = true;
    this.#done();
  }
  onError(e: Error, retryable: boolean): void {
    this.error = e;
    this.retryable = retryable;
    this.#done();
  }
  onDrain(): void {
    this.drains++;
  }
}

class Owner implements ClientConnectionOwner {
  availableCalls = 0;
  retiredCalls = 0;
  available(): void {
    this.availableCalls++;
  }
  retired(): void {
    this.retiredCalls++;
  }
}

const OPTIONS: Http2ClientOptions = {
  streamWindowBytes: 65_535,
  connectionWindowBytes: 1 << 20,
  maxHeaderBytes: 16_384,
  maxHeaderCount: 50,
  idleTimeoutMs: 60_000,
  keepaliveMs: 60_000,
  handshakeTimeoutMs: 5_000,
  maxBufferedBytes: 32_768,
};

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A scripted server on port 0; `accept()` resolves with the peer of the next connection. */
async function scriptedServer(): Promise<{ port: number; accept: () => Promise<Peer> }> {
  const queue: Peer[] = [];
  const waiting: ((p: Peer) => void)[] = [];
  const server = net.createServer((socket) => {
    const peer = new Peer(socket);
    const w = waiting.shift();
    if (w) w(peer);
    else queue.push(peer);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    server.close();
    for (const p of queue) p.socket.destroy();
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    accept: () => {
      const p = queue.shift();
      return p ? Promise.resolve(p) : new Promise<Peer>((r) => waiting.push(r));
    },
  };
}

async function connected(opts: Partial<Http2ClientOptions> = {}, serverSettings: [number, number][] = []) {
  const { port, accept } = await scriptedServer();
  const owner = new Owner();
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const conn = new Http2ClientConnection(socket, { ...OPTIONS, ...opts }, owner);
  cleanups.push(() => socket.destroy());
  const peer = await accept();
  cleanups.push(() => peer.socket.destroy());
  // The client's SETTINGS come first; the server answers with its own and an ACK.
  await peer.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0, 'client SETTINGS');
  peer.send(settingsFrame(serverSettings), settingsFrame([], true));
  await peer.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) !== 0, 'SETTINGS ACK');
  return { conn, peer, owner };
}

const status = (code: number, extra: [string, string][] = []): Buffer => headerBlock([[':status', String(code)], ...extra]);
const get = (conn: Http2ClientConnection, h: ClientStreamHandler, path = '/', headers: HeaderBag = Object.create(null) as HeaderBag) =>
  conn.request('GET', 'example.test', path, headers, false, true, h)!;
const post = (conn: Http2ClientConnection, h: ClientStreamHandler, te = false) => conn.request('POST', 'example.test', '/up', Object.create(null) as HeaderBag, te, false, h)!;
const headersOn = (id: number) => (f: PeerFrame) => f.type === FRAME.HEADERS && f.streamId === id;

describe('HTTP/2 client connection', () => {
  it('sends the preface, push disabled and our window, then a request head; delivers the answer', async () => {
    const { conn, peer } = await connected();
    const settings = peer.frames.find((f) => f.type === FRAME.SETTINGS)!;
    const values = new Map<number, number>();
    for (let p = 0; p < settings.payload.length; p += 6) values.set(settings.payload.readUInt16BE(p), settings.payload.readUInt32BE(p + 2));
    expect(values.get(SETTING.ENABLE_PUSH)).toBe(0);
    expect(values.get(SETTING.INITIAL_WINDOW_SIZE)).toBe(65_535);
    const wu = peer.frames.find((f) => f.type === FRAME.WINDOW_UPDATE && f.streamId === 0)!;
    expect(wu.payload.readUInt32BE(0)).toBe((1 << 20) - 65_535);

    const r = new Recorder();
    const s = get(conn, r, '/hello?x=1', Object.assign(Object.create(null) as HeaderBag, { 'x-a': 'b', connection: 'close', host: 'evil' }));
    expect(s.id).toBe(1);
    const h = await peer.waitFor(headersOn(1), 'request HEADERS');
    expect(h.flags & FLAG.END_STREAM).toBe(FLAG.END_STREAM);
    expect(h.fields).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':authority', 'example.test'],
      [':path', '/hello?x=1'],
      ['x-a', 'b'],
    ]);
    peer.send(headersFrame(1, status(200, [['content-type', 'text/plain']])), dataFrame(1, 'hel'), dataFrame(1, 'lo', true));
    await r.done;
    expect(r.status).toBe(200);
    expect(r.headers!['content-type']).toBe('text/plain');
    expect(r.body).toBe('hello');
    expect(r.ended).toBe(true);
    expect(r.trailers).toBeNull();
    expect(conn.activeStreams).toBe(0);
  });

  it('delivers response trailers, and a trailers-only answer as a head that ends the stream', async () => {
    const { conn, peer } = await connected();
    const a = new Recorder();
    get(conn, a);
    const b = new Recorder();
    get(conn, b);
    await peer.waitFor(headersOn(3), 'second request');
    peer.send(
      headersFrame(1, status(200, [['content-type', 'application/grpc']])),
      dataFrame(1, 'msg'),
      headersFrame(1, headerBlock([['grpc-status', '0'], ['grpc-message', 'ok']]), { endStream: true }),
      headersFrame(3, status(200, [['grpc-status', '12']]), { endStream: true }),
    );
    await Promise.all([a.done, b.done]);
    expect(a.body).toBe('msg');
    expect(a.trailers).toEqual({ 'grpc-status': '0', 'grpc-message': 'ok' });
    expect(b.bodyEndedWithHead).toBe(true);
    expect(b.headers!['grpc-status']).toBe('12');
    expect(b.ended).toBe(true);
  });

  it('forwards a request body and request trailers (gRPC client streaming), te: trailers in the head', async () => {
    const { conn, peer } = await connected();
    const r = new Recorder();
    const s = post(conn, r, true);
    s.write(Buffer.from('part1'));
    s.write(Buffer.from('part2'));
    s.end(Object.assign(Object.create(null) as HeaderBag, { 'x-checksum': 'abc' }));
    const t = await peer.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 1 && (f.flags & FLAG.END_STREAM) !== 0, 'request trailers');
    expect(t.fields).toEqual([['x-checksum', 'abc']]);
    const head = peer.frames.find(headersOn(1))!;
    expect(head.flags & FLAG.END_STREAM).toBe(0);
    expect(head.fields).toContainEqual(['te', 'trailers']);
    const body = peer.frames.filter((f) => f.type === FRAME.DATA && f.streamId === 1).map((f) => f.payload.toString());
    expect(body.join('')).toBe('part1part2');
    peer.send(headersFrame(1, status(204), { endStream: true }));
    await r.done;
    expect(r.status).toBe(204);
  });

  it('opens no more streams than the server allows (SETTINGS_MAX_CONCURRENT_STREAMS), and says when one frees', async () => {
    const { conn, peer, owner } = await connected({}, [[SETTING.MAX_CONCURRENT_STREAMS, 2]]);
    expect(conn.available).toBe(2);
    const a = new Recorder();
    get(conn, a);
    get(conn, new Recorder());
    expect(conn.available).toBe(0);
    expect(conn.request('GET', 'example.test', '/', Object.create(null) as HeaderBag, false, true, new Recorder())).toBeNull();
    const before = owner.availableCalls;
    peer.send(headersFrame(1, status(200), { endStream: true }));
    await a.done;
    expect(conn.available).toBe(1);
    expect(owner.availableCalls).toBeGreaterThan(before);
  });

  it('GOAWAY: streams above its last stream id fail as retryable, those below finish, then the connection closes', async () => {
    const { conn, peer, owner } = await connected();
    const rs = [new Recorder(), new Recorder(), new Recorder()];
    for (const r of rs) get(conn, r);
    await peer.waitFor(headersOn(5), 'third request');
    const goaway = Buffer.alloc(8);
    goaway.writeUInt32BE(3, 0);
    goaway.writeUInt32BE(H2_ERROR.NO_ERROR, 4);
    peer.send(frame(FRAME.GOAWAY, 0, 0, goaway));
    await rs[2]!.done;
    expect(rs[2]!.retryable).toBe(true);
    expect(conn.available).toBe(0);
    expect(owner.retiredCalls).toBe(1);
    peer.send(headersFrame(1, status(200), { endStream: true }), headersFrame(3, status(200)), dataFrame(3, 'late', true));
    await Promise.all([rs[0]!.done, rs[1]!.done]);
    expect(rs[0]!.ended && rs[1]!.ended).toBe(true);
    expect(rs[1]!.body).toBe('late');
    await peer.closedByClient();
  });

  it('RST_STREAM: REFUSED_STREAM is retryable, any other code is a reset that is not', async () => {
    const { conn, peer } = await connected();
    const refused = new Recorder();
    const reset = new Recorder();
    get(conn, refused);
    get(conn, reset);
    await peer.waitFor(headersOn(3), 'second request');
    peer.send(rstStreamFrame(1, H2_ERROR.REFUSED_STREAM), headersFrame(3, status(200)), rstStreamFrame(3, H2_ERROR.INTERNAL_ERROR));
    await Promise.all([refused.done, reset.done]);
    expect(refused.retryable).toBe(true);
    expect(reset.retryable).toBe(false);
    expect((reset.error as { code?: string }).code).toBe('SKEIN_ERR_UPSTREAM_RESET');
    expect(conn.activeStreams).toBe(0);
  });

  it('a malformed response head is a stream error (RST_STREAM PROTOCOL_ERROR) and an upstream protocol failure', async () => {
    const { conn, peer } = await connected();
    const r = new Recorder();
    get(conn, r);
    await peer.waitFor(headersOn(1), 'request');
    peer.send(headersFrame(1, headerBlock([[':status', '200'], ['Bad-Case', 'x']]), { endStream: true }));
    await r.done;
    expect((r.error as { code?: string }).code).toBe('SKEIN_ERR_UPSTREAM_PROTOCOL');
    const rst = await peer.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === 1, 'RST_STREAM');
    expect(errorCodeOf(rst)).toBe(H2_ERROR.PROTOCOL_ERROR);
    // The connection itself is still good.
    const ok = new Recorder();
    get(conn, ok);
    peer.send(headersFrame(3, status(200), { endStream: true }));
    await ok.done;
    expect(ok.status).toBe(200);
  });

  it('sends request body only as far as the server windows allow, and asks for more when they open', async () => {
    const { conn, peer } = await connected({}, [[SETTING.INITIAL_WINDOW_SIZE, 10]]);
    const r = new Recorder();
    const s = post(conn, r);
    expect(s.write(Buffer.from('0123456789abcdefghijklmno'))).toBe(false);
    await peer.sync(1);
    const sent = () =>
      peer.frames
        .filter((f) => f.type === FRAME.DATA && f.streamId === 1)
        .map((f) => f.payload.toString())
        .join('');
    expect(sent()).toBe('0123456789');
    expect(r.drains).toBe(0);
    peer.send(windowUpdateFrame(1, 100));
    await peer.sync(2);
    expect(sent()).toBe('0123456789abcdefghijklmno');
    expect(r.drains).toBe(1);
  });

  it('a write refused because the connection output is full is followed by onDrain once it is written', async () => {
    const { conn, peer } = await connected({ maxBufferedBytes: 0 });
    const r = new Recorder();
    const s = post(conn, r);
    expect(s.write(Buffer.from('x'))).toBe(false);
    await peer.sync(1);
    expect(r.drains).toBe(1);
  });

  it('returns response window only as the consumer takes the bytes (back-pressure on the downstream side)', async () => {
    const { conn, peer } = await connected({ streamWindowBytes: 100 });
    const r = new Recorder();
    r.accept = false;
    const s = get(conn, r);
    peer.send(headersFrame(1, status(200)), dataFrame(1, Buffer.alloc(60, 0x61)));
    await peer.sync(1);
    expect(r.body.length).toBe(60);
    expect(peer.frames.some((f) => f.type === FRAME.WINDOW_UPDATE && f.streamId === 1)).toBe(false);
    s.resume();
    const wu = await peer.waitFor((f) => f.type === FRAME.WINDOW_UPDATE && f.streamId === 1, 'stream WINDOW_UPDATE');
    expect(wu.payload.readUInt32BE(0)).toBe(60);
  });

  it('a stream the exchange cancels is reset with CANCEL; late frames on it are ignored', async () => {
    const { conn, peer } = await connected();
    const r = new Recorder();
    const s = get(conn, r);
    s.cancel();
    const rst = await peer.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === 1, 'RST_STREAM');
    expect(errorCodeOf(rst)).toBe(H2_ERROR.CANCEL);
    peer.send(headersFrame(1, status(200)), dataFrame(1, 'late', true));
    await peer.sync(1);
    expect(r.status).toBe(0);
    expect(peer.closed).toBe(false);
  });

  it('answers PINGs, and PINGs a silent server: no answer at all closes the connection and fails its streams', async () => {
    const { conn, peer } = await connected({ keepaliveMs: 30 });
    await peer.sync(7); // its own PING is ACKed with the same payload
    const r = new Recorder();
    get(conn, r);
    const ping = await peer.waitFor((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) === 0, 'keepalive PING');
    expect(ping.payload.length).toBe(8);
    // The server stays silent: the connection is given up.
    await r.done;
    expect(r.error!.message).toContain('PING unanswered');
    await peer.closedByClient();
  });

  it('a connection without streams past its idle timeout says GOAWAY and closes', async () => {
    const { peer, owner } = await connected({ idleTimeoutMs: 30 });
    const g = await peer.waitFor((f) => f.type === FRAME.GOAWAY, 'GOAWAY');
    expect(errorCodeOf(g)).toBe(H2_ERROR.NO_ERROR);
    await peer.closedByClient();
    expect(owner.retiredCalls).toBe(1);
  });

  it('a server that enables push breaks the protocol: GOAWAY(PROTOCOL_ERROR), streams fail', async () => {
    const { conn, peer } = await connected();
    const r = new Recorder();
    get(conn, r);
    peer.send(settingsFrame([[SETTING.ENABLE_PUSH, 1]]));
    await r.done;
    expect((r.error as { code?: string }).code).toBe('SKEIN_ERR_UPSTREAM_PROTOCOL');
    const g = await peer.waitFor((f) => f.type === FRAME.GOAWAY, 'GOAWAY');
    expect(errorCodeOf(g)).toBe(H2_ERROR.PROTOCOL_ERROR);
  });
});

describe('HTTP/2 pool on our client', () => {
  async function pool(maxConnections: number) {
    const { port, accept } = await scriptedServer();
    const p = new Http2Pool({ host: '127.0.0.1', port, idleTimeoutMs: 60_000, connectTimeoutMs: 1_000, streamWindowBytes: 65_535, connectionWindowBytes: 1 << 20, maxConnections });
    cleanups.push(() => p.close());
    return { p, accept };
  }
  /** Acquires a connection; the server peer (accepted meanwhile) sends its SETTINGS, which the pool waits for. */
  async function take(p: Http2Pool, accept: () => Promise<Peer>, settings: [number, number][] = []) {
    const got = new Promise<Http2ClientConnection>((resolve, reject) => p.acquire({ onConnection: resolve, onConnectionError: reject }));
    const peer = await accept();
    cleanups.push(() => peer.socket.destroy());
    peer.send(settingsFrame(settings));
    return { conn: await got, peer };
  }

  it('opens another connection when the streams of the first are used up', async () => {
    const { p, accept } = await pool(2);
    const { conn: c1 } = await take(p, accept, [[SETTING.MAX_CONCURRENT_STREAMS, 1]]);
    get(c1, new Recorder());
    const { conn: c2 } = await take(p, accept);
    expect(c2).not.toBe(c1);
    expect(p.openConnections).toBe(2);
  });

  it('at its connection cap, a request waits for a free stream and gets it when one finishes', async () => {
    const { p, accept } = await pool(1);
    const { conn: c1, peer } = await take(p, accept, [[SETTING.MAX_CONCURRENT_STREAMS, 1]]);
    const first = new Recorder();
    get(c1, first);
    let waited: Http2ClientConnection | null = null;
    p.acquire({ onConnection: (c) => (waited = c), onConnectionError: () => {} });
    await peer.sync(1);
    expect(waited).toBeNull();
    peer.send(headersFrame(1, status(200), { endStream: true }));
    await first.done;
    expect(waited).toBe(c1);
  });

  it('after a GOAWAY the next request goes to a fresh connection', async () => {
    const { p, accept } = await pool(2);
    const { conn: c1, peer: peer1 } = await take(p, accept);
    peer1.send(frame(FRAME.GOAWAY, 0, 0, Buffer.alloc(8)));
    await peer1.closedByClient();
    const { conn: c2 } = await take(p, accept);
    expect(c2).not.toBe(c1);
  });

  it('a pool retired while its new connection waits for SETTINGS still serves the request waiting on it, then closes', async () => {
    const { p, accept } = await pool(2);
    const r = new Recorder();
    // Like the stack's exchange, the waiter opens its stream as soon as it is handed the connection.
    p.acquire({ onConnection: (c) => get(c, r), onConnectionError: (e) => r.onError(e, false) });
    const peer = await accept();
    cleanups.push(() => peer.socket.destroy());
    p.retire();
    peer.send(settingsFrame([]));
    await peer.waitFor(headersOn(1), 'request');
    peer.send(headersFrame(1, status(200), { endStream: true }));
    await r.done;
    // Its last stream done, the retired pool's connection says GOAWAY and closes.
    await peer.waitFor((f) => f.type === FRAME.GOAWAY, 'GOAWAY');
    await peer.closedByClient();
  });

  it('waits for the server SETTINGS before the first stream, and fails the waiting requests if the connection dies first', async () => {
    const { p, accept } = await pool(2);
    const failed = new Promise<Error>((resolve) => p.acquire({ onConnection: () => resolve(new Error('got a connection')), onConnectionError: resolve }));
    const peer = await accept();
    peer.socket.destroy();
    const e = await failed;
    expect((e as { code?: string }).code).toBe('SKEIN_ERR_UPSTREAM_RESET');
  });

  it('a server that never sends SETTINGS fails the waiting requests after the handshake timeout', async () => {
    const { port, accept } = await scriptedServer();
    const p = new Http2Pool({ host: '127.0.0.1', port, idleTimeoutMs: 60_000, connectTimeoutMs: 200, streamWindowBytes: 65_535, connectionWindowBytes: 1 << 20, maxConnections: 1 });
    cleanups.push(() => p.close());
    const failed = new Promise<Error>((resolve) => p.acquire({ onConnection: () => resolve(new Error('got a connection')), onConnectionError: resolve }));
    const peer = await accept();
    cleanups.push(() => peer.socket.destroy());
    const e = await failed;
    expect(e.message).toContain('no HTTP/2 SETTINGS');
  });
});

describe('HTTP/2 client facing a hostile server', () => {
  const isCalm = (f: PeerFrame) => f.type === FRAME.GOAWAY && errorCodeOf(f) === H2_ERROR.ENHANCE_YOUR_CALM;
  const floods: [string, () => Buffer][] = [
    ['PING', () => pingFrame()],
    ['SETTINGS', () => settingsFrame([])],
    ['SETTINGS ACK', () => settingsFrame([], true)],
    ['PRIORITY', () => frame(FRAME.PRIORITY, 0, 3, Buffer.alloc(5))],
    ['empty DATA', () => dataFrame(1, '')],
    ['unknown frame type', () => frame(0x20, 0, 0, Buffer.alloc(4))],
  ];
  for (const [what, one] of floods) {
    it(`a ${what} flood costs the server its connection: GOAWAY(ENHANCE_YOUR_CALM), the streams fail`, async () => {
      const { conn, peer } = await connected();
      const r = new Recorder();
      get(conn, r);
      await peer.waitFor(headersOn(1), 'request');
      if (what === 'empty DATA') peer.send(headersFrame(1, status(200)));
      // Twice the burst in one write: whatever the budget refills while it is read, the flood is past it.
      peer.send(Buffer.concat(Array.from({ length: 2_000 }, one)));
      await r.done;
      expect((r.error as { code?: string }).code).toBe('SKEIN_ERR_UPSTREAM_PROTOCOL');
      expect(r.error!.message).toContain('flood');
      await peer.waitFor(isCalm, 'GOAWAY(ENHANCE_YOUR_CALM)');
      await peer.closedByClient();
      // Never more answers than the budget allowed.
      expect(peer.frames.filter((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) !== 0).length).toBeLessThanOrEqual(1_000);
      expect(peer.frames.filter((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) !== 0).length).toBeLessThanOrEqual(1_001);
    });
  }

  it('RST_STREAM and WINDOW_UPDATE floods on closed streams cost the server its connection', async () => {
    for (const one of [() => rstStreamFrame(1, H2_ERROR.CANCEL), () => windowUpdateFrame(1, 1)]) {
      const { conn, peer } = await connected();
      const done = new Recorder();
      get(conn, done);
      peer.send(headersFrame(1, status(200), { endStream: true }));
      await done.done;
      const open = new Recorder();
      get(conn, open);
      await peer.waitFor(headersOn(3), 'second request');
      peer.send(Buffer.concat(Array.from({ length: 2_000 }, one)));
      await open.done;
      expect(open.error!.message).toContain('flood');
      await peer.waitFor(isCalm, 'GOAWAY(ENHANCE_YOUR_CALM)');
    }
  });

  it('answers the PINGs and SETTINGS of a well-behaved server, however long the connection lives', async () => {
    const { conn, peer } = await connected();
    // Well under the rate: a few hundred over the connection's life are fine.
    for (let i = 0; i < 5; i++) {
      peer.send(Buffer.concat(Array.from({ length: 100 }, () => pingFrame())), settingsFrame([]));
      await peer.sync(100 + i);
    }
    const r = new Recorder();
    get(conn, r);
    peer.send(headersFrame(1, status(200), { endStream: true }));
    await r.done;
    expect(r.status).toBe(200);
    expect(peer.frames.some(isCalm)).toBe(false);
  });

  it('a response header block past the limit is refused: fields past maxHeaderCount reset the stream, a CONTINUATION flood the connection', async () => {
    const { conn, peer } = await connected({ maxHeaderCount: 50 });
    const many = new Recorder();
    get(conn, many);
    const fields: [string, string][] = Array.from({ length: 60 }, (_, i) => [`x-f${i}`, 'v']);
    peer.send(headersFrame(1, status(200, fields), { endStream: true }));
    await many.done;
    expect((many.error as { code?: string }).code).toBe('SKEIN_ERR_UPSTREAM_PROTOCOL');
    const rst = await peer.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === 1, 'RST_STREAM');
    expect(errorCodeOf(rst)).toBe(H2_ERROR.CANCEL);
    // A header block that never ends: bounded, then the connection is closed.
    const flooded = new Recorder();
    get(conn, flooded);
    const parts = [headersFrame(3, status(200), { endHeaders: false })];
    for (let i = 0; i < 200; i++) parts.push(continuationFrame(3, headerBlock([[`x-c${i}`, 'v'.repeat(100)]]), false));
    peer.send(...parts);
    await flooded.done;
    expect(flooded.error!.message).toContain('header block too large');
    await peer.waitFor(isCalm, 'GOAWAY(ENHANCE_YOUR_CALM)');
  });
});

describe('HTTP/2 client over TLS: ALPN', () => {
  let cert: TestCert;
  beforeAll(() => {
    cert = makeTestCert(['upstream.test']);
  });
  afterAll(() => cert.remove());

  /** A TLS server choosing `alpn` (null: no ALPN at all); records the bytes it is sent after the handshake. */
  async function tlsServer(alpn: string[] | null, originate = false) {
    const received: Buffer[] = [];
    const sockets: tls.TLSSocket[] = [];
    const server = tls.createServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile), ...(alpn ? { ALPNProtocols: alpn } : {}) }, (socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.on('data', (b: Buffer) => {
        received.push(b);
        // Answer as an HTTP/2 server would, so that a client that went ahead would get as far as it can.
        if (received.length === 1) socket.write(settingsFrame([]));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const context = tls.createSecureContext({ ca: readFileSync(cert.certFile) });
    const transport: Transport = originate
      ? { kind: 'originate', under: { kind: 'plain' }, tls: { servername: 'upstream.test', context, version: 'test', alpn: ['h2'], checkServerIdentity: tls.checkServerIdentity } }
      : { kind: 'tls', servername: 'upstream.test', serverIdentity: null, context, contextVersion: 'test', alpn: ['h2', 'http/1.1'] };
    const pool = new Http2Pool({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, idleTimeoutMs: 60_000, connectTimeoutMs: 2_000, streamWindowBytes: 65_535, connectionWindowBytes: 1 << 20, maxConnections: 1, transport });
    cleanups.push(() => pool.close());
    const result = new Promise<Http2ClientConnection | Error>((resolve) => pool.acquire({ onConnection: resolve, onConnectionError: resolve }));
    return { received, result };
  }

  for (const [name, alpn] of [['negotiates http/1.1', ['http/1.1']], ['negotiates nothing', null]] as const) {
    it(`a server that ${name} is never spoken HTTP/2 to: the request fails as an upstream protocol error`, async () => {
      const { received, result } = await tlsServer(alpn === null ? null : [...alpn]);
      const e = await result;
      expect(e).toBeInstanceOf(Error);
      expect((e as { code?: string }).code).toBe('SKEIN_ERR_UPSTREAM_PROTOCOL');
      expect((e as Error).message).toContain(`ALPN: ${alpn === null ? 'none' : 'http/1.1'}`);
      expect(Buffer.concat(received).length).toBe(0);
    });
  }

  it('a server that negotiates h2 gets the preface and serves streams', async () => {
    const { received, result } = await tlsServer(['h2']);
    const conn = await result;
    expect(conn).toBeInstanceOf(Http2ClientConnection);
    expect(Buffer.concat(received).subarray(0, PREFACE.length).equals(PREFACE)).toBe(true);
  });

  it('TLS originated to the server (BackendTLSPolicy, over plain TCP) reads the server as mesh TLS does', async () => {
    const { received, result } = await tlsServer(['h2'], true);
    const conn = await result;
    expect(conn).toBeInstanceOf(Http2ClientConnection);
    expect(Buffer.concat(received).subarray(0, PREFACE.length).equals(PREFACE)).toBe(true);
  });

  it('says :scheme https on a TLS connection (http only in clear text)', async () => {
    const { received, result } = await tlsServer(['h2']);
    const conn = (await result) as Http2ClientConnection;
    await until('the server SETTINGS to be taken in', () => conn.available > 0);
    get(conn, new Recorder(), '/over-tls');
    const fields = await until('the request HEADERS', () => {
      const reader = new FrameReader();
      const h = (reader.push(Buffer.concat(received).subarray(PREFACE.length)) as Frame[]).find((f) => f.type === FRAME.HEADERS);
      if (!h) return undefined;
      const out: [string, string][] = [];
      new HpackDecoder().decode(h.payload, (n, v) => out.push([n, v]));
      return out;
    });
    expect(fields).toContainEqual([':scheme', 'https']);
    expect(fields).toContainEqual([':path', '/over-tls']);
  });
});
