// Our HTTP/2 server connection driven frame by frame (raw frame writer over loopback): stream states, flow control, limits.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../api/config/proxy-config-defaults.ts';
import type { LimitsConfig } from '../../api/config/proxy-config.ts';
import {
  FLAG,
  FRAME,
  H2_ERROR,
  RawH2Connection,
  SETTING,
  continuationFrame,
  dataFrame,
  errorCodeOf,
  frame,
  headerBlock,
  headersFrame,
  hpackLiteral,
  pingFrame,
  requestFields,
  responseStatus,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  type Frame,
} from '../support/h2-frames.ts';
import type { BodySink } from '../../proxy/http1/server-connection.ts';
import { Http2ServerConnection } from '../../proxy/http2/server-connection.ts';
import { until } from '../support/until.ts';
import type { Http2Request, Http2Response } from '../../proxy/http2/server-exchange.ts';

/** What the fake application does with each request, by path. */
type App = (req: Http2Request, res: Http2Response) => void;

const apps = new Map<string, App>();
const seen: string[] = [];
/** Answers 200 with the path as body, after reading the whole request body. */
const echoPath: App = (req, res) => {
  const done = (): void => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(req.url ?? '');
  };
  if (req.complete) return done();
  req.attachBody({ data: () => true, end: done, error: () => {} });
};

let server: net.Server;
let port: number;
/** The server side of every connection, to watch what it writes. */
const serverSockets: net.Socket[] = [];
const limits: LimitsConfig = { ...DEFAULT_LIMITS.sidecar, maxHeaderCount: 20, maxRequestHeaderBytes: 4_096 };

beforeAll(async () => {
  server = net.createServer((socket) => {
    socket.on('error', () => {});
    serverSockets.push(socket);
    new Http2ServerConnection(socket, limits, {
      onRequest: (req, res) => {
        seen.push(req.url ?? '');
        (apps.get(req.url ?? '') ?? echoPath)(req, res);
      },
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const get = (id: number, path: string, endStream = true): Buffer => headersFrame(id, headerBlock(requestFields(path)), { endStream });
const post = (id: number, path: string, extra: [string, string][] = []): Buffer => headersFrame(id, headerBlock([...requestFields(path, 'example.test', 'POST'), ...extra]), { endStream: false });
const isGoaway = (f: Frame): boolean => f.type === FRAME.GOAWAY;

async function open(settings: readonly (readonly [number, number])[] = []): Promise<RawH2Connection> {
  const c = await RawH2Connection.open(port, { settings });
  await c.handshake();
  return c;
}

/** Sends a PING and waits for its ACK: everything sent before it has been processed. */
async function sync(c: RawH2Connection, tag: number): Promise<boolean> {
  const data = Buffer.alloc(8);
  data.writeUInt32BE(tag, 4);
  c.send(pingFrame(data));
  return (await c.waitForFrame((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) !== 0 && f.payload.equals(data))) !== null;
}

describe('connection start', () => {
  it('sends our SETTINGS (streams, stream window, header list) and opens the connection window to the configured size', async () => {
    const c = await open();
    try {
      const s = c.frames.find((f) => f.type === FRAME.SETTINGS && f.flags === 0)!;
      const values = new Map<number, number>();
      for (let p = 0; p < s.payload.length; p += 6) values.set(s.payload.readUInt16BE(p), s.payload.readUInt32BE(p + 2));
      expect(values.get(SETTING.MAX_CONCURRENT_STREAMS)).toBe(limits.http2MaxConcurrentStreams);
      expect(values.get(SETTING.INITIAL_WINDOW_SIZE)).toBe(limits.http2StreamWindowBytes);
      expect(values.get(SETTING.MAX_HEADER_LIST_SIZE)).toBe(limits.maxRequestHeaderBytes);
      const wu = await c.waitForFrame((f) => f.type === FRAME.WINDOW_UPDATE && f.streamId === 0);
      expect(wu!.payload.readUInt32BE(0)).toBe(limits.http2ConnectionWindowBytes - 65_535);
    } finally {
      c.destroy();
    }
  });

  it('a connection that does not open with SETTINGS after the preface: GOAWAY(PROTOCOL_ERROR)', async () => {
    const c = await RawH2Connection.open(port, { preface: false });
    c.send(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), pingFrame());
    const g = await c.waitForFrame(isGoaway);
    expect(g && errorCodeOf(g)).toBe(H2_ERROR.PROTOCOL_ERROR);
    expect(await c.waitClosed()).toBe(true);
  });
});

describe('stream states (RFC 9113 5.1)', () => {
  it('DATA on an idle stream: connection error PROTOCOL_ERROR', async () => {
    const c = await open();
    c.send(dataFrame(1, 'x'));
    const g = await c.waitForFrame(isGoaway);
    expect(g && errorCodeOf(g)).toBe(H2_ERROR.PROTOCOL_ERROR);
    expect(await c.waitClosed()).toBe(true);
  });

  it('DATA after the client ended the stream: connection error STREAM_CLOSED', async () => {
    apps.set('/hold', () => {}); // never answers: the stream stays half-closed (remote)
    const c = await open();
    c.send(get(1, '/hold'));
    expect(await sync(c, 1)).toBe(true);
    c.send(dataFrame(1, 'late'));
    const g = await c.waitForFrame(isGoaway);
    expect(g && errorCodeOf(g)).toBe(H2_ERROR.STREAM_CLOSED);
    expect(g!.payload.readUInt32BE(0)).toBe(1); // the last stream we took
  });

  it('DATA after the client reset the stream: stream error STREAM_CLOSED, the connection goes on', async () => {
    apps.set('/hold', () => {});
    const c = await open();
    try {
      c.send(post(1, '/hold'), rstStreamFrame(1, H2_ERROR.CANCEL), dataFrame(1, 'late'));
      const f = await c.waitForFrame((x) => x.type === FRAME.RST_STREAM && x.streamId === 1);
      expect(f && errorCodeOf(f)).toBe(H2_ERROR.STREAM_CLOSED);
      c.send(get(3, '/after'));
      const h = await c.waitForFrame((x) => x.type === FRAME.HEADERS && x.streamId === 3);
      expect(responseStatus(h!.payload)).toBe(200);
      expect(c.goaway()).toBeUndefined();
    } finally {
      c.destroy();
    }
  });

  it('frames on a stream we reset are ignored (the client may not know yet), not answered with errors', async () => {
    const c = await open();
    try {
      // A malformed request (connection-specific header): we reset stream 1; its DATA and trailers may still be in flight.
      c.send(headersFrame(1, headerBlock([...requestFields('/bad', 'example.test', 'POST'), ['connection', 'x']])));
      const f = await c.waitForFrame((x) => x.type === FRAME.RST_STREAM && x.streamId === 1);
      expect(f && errorCodeOf(f)).toBe(H2_ERROR.PROTOCOL_ERROR);
      c.send(dataFrame(1, 'body'), headersFrame(1, headerBlock([['x-trailer', '1']]), { endStream: true }));
      expect(await sync(c, 2)).toBe(true);
      expect(c.goaway()).toBeUndefined();
      expect(c.frames.filter((x) => x.type === FRAME.RST_STREAM)).toHaveLength(1);
      expect(seen).not.toContain('/bad');
    } finally {
      c.destroy();
    }
  });

  it('HEADERS reusing a stream id below the highest one: connection error PROTOCOL_ERROR, the stream already taken is still answered', async () => {
    const c = await open();
    c.send(get(5, '/five'), get(3, '/three'));
    const g = await c.waitForFrame(isGoaway);
    expect(g && errorCodeOf(g)).toBe(H2_ERROR.PROTOCOL_ERROR);
    expect(g!.payload.readUInt32BE(0)).toBe(5);
    const h = await c.waitForFrame((x) => x.type === FRAME.HEADERS && x.streamId === 5);
    expect(responseStatus(h!.payload)).toBe(200);
    expect(await c.waitClosed()).toBe(true);
    expect(seen).not.toContain('/three');
  });

  it('a second HEADERS without END_STREAM (trailers must end the stream): stream error PROTOCOL_ERROR', async () => {
    apps.set('/trailers', () => {});
    const c = await open();
    try {
      c.send(post(1, '/trailers'), dataFrame(1, 'x'), headersFrame(1, headerBlock([['x-t', '1']]), { endStream: false }));
      const f = await c.waitForReset(1);
      expect(f?.type).toBe(FRAME.RST_STREAM);
      expect(errorCodeOf(f!)).toBe(H2_ERROR.PROTOCOL_ERROR);
    } finally {
      c.destroy();
    }
  });

  it('PRIORITY making a stream depend on itself: stream error PROTOCOL_ERROR; other PRIORITY frames and an unsolicited PING ACK are ignored', async () => {
    const c = await open();
    try {
      c.send(frame(FRAME.PRIORITY, 0, 9, Buffer.from([0, 0, 0, 7, 16])), pingFrame(Buffer.alloc(8, 1), true), frame(FRAME.PRIORITY, 0, 11, Buffer.from([0, 0, 0, 11, 16])));
      const f = await c.waitForFrame((x) => x.type === FRAME.RST_STREAM);
      expect(f!.streamId).toBe(11);
      expect(errorCodeOf(f!)).toBe(H2_ERROR.PROTOCOL_ERROR);
      expect(await sync(c, 3)).toBe(true);
      expect(c.goaway()).toBeUndefined();
    } finally {
      c.destroy();
    }
  });
});

describe('PING', () => {
  /** Records every chunk the server writes on the connection of `c` from now on, as frame (type, stream) lists. */
  function serverWrites(c: RawH2Connection): { type: number; streamId: number; flags: number }[][] {
    const s = serverSockets.find((x) => x.remotePort === c.socket.localPort)!;
    const writes: { type: number; streamId: number; flags: number }[][] = [];
    const write = s.write.bind(s) as (b: Buffer) => boolean;
    s.write = ((b: Buffer) => {
      const fs: { type: number; streamId: number; flags: number }[] = [];
      for (let p = 0; p + 9 <= b.length; p += 9 + b.readUIntBE(p, 3)) fs.push({ type: b[p + 3]!, flags: b[p + 4]!, streamId: b.readUInt32BE(p + 5) & 0x7fffffff });
      writes.push(fs);
      return write(b);
    }) as typeof s.write;
    return writes;
  }

  it('a PING while a response is in progress is answered in the write of that response, not in a write of its own', async () => {
    // The app answers after the read that brought the request and the PING was handled (a microtask later): answered at
    // once, the ACK would have been written by then.
    apps.set('/ping-rides', (_req, res) => {
      queueMicrotask(() => {
        res.writeHead(200);
        res.end('ok');
      });
    });
    const c = await open();
    try {
      // Our SETTINGS acknowledged first: an ACK of them in the same write would be something else the PING's ACK rides on.
      await c.waitForFrame((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) !== 0);
      const writes = serverWrites(c);
      c.send(get(1, '/ping-rides'), pingFrame(Buffer.alloc(8, 7)));
      await c.waitForFrame((f) => f.type === FRAME.DATA && f.streamId === 1 && (f.flags & FLAG.END_STREAM) !== 0);
      const ack = writes.find((w) => w.some((f) => f.type === FRAME.PING));
      expect(ack).toBeDefined();
      expect(ack!.some((f) => f.type === FRAME.HEADERS && f.streamId === 1)).toBe(true);
      expect(c.frames.find((f) => f.type === FRAME.PING)!.payload.equals(Buffer.alloc(8, 7))).toBe(true);
    } finally {
      apps.delete('/ping-rides');
      c.destroy();
    }
  });

  it('the ACK still comes when the response in progress does not (a held ACK waits a few milliseconds at most)', async () => {
    const held: { respond?: () => void } = {};
    apps.set('/ping-waits', (_req, res) => {
      held.respond = () => res.end();
    });
    const c = await open();
    try {
      c.send(get(1, '/ping-waits'));
      await until('the request to reach the app', () => held.respond !== undefined);
      expect(await sync(c, 9)).toBe(true);
      held.respond!();
    } finally {
      apps.delete('/ping-waits');
      c.destroy();
    }
  });
});

describe('flow control (RFC 9113 6.9)', () => {
  it("the response follows the client's stream window, also when a SETTINGS change makes it negative", async () => {
    apps.set('/ten', (_req, res) => {
      res.writeHead(200);
      res.end(Buffer.alloc(10, 0x61));
    });
    const c = await open([[SETTING.INITIAL_WINDOW_SIZE, 3]]);
    try {
      c.send(get(1, '/ten'));
      const d1 = await c.waitForFrame((f) => f.type === FRAME.DATA && f.streamId === 1);
      expect(d1!.payload.length).toBe(3);
      // 3 sent against a window now of 1: it is -2; a WINDOW_UPDATE of 3 allows exactly one more byte.
      c.send(settingsFrame([[SETTING.INITIAL_WINDOW_SIZE, 1]]));
      expect(await sync(c, 4)).toBe(true);
      expect(c.framesOn(1).filter((f) => f.type === FRAME.DATA)).toHaveLength(1);
      c.send(windowUpdateFrame(1, 3));
      const d2 = await c.waitForFrame((f) => f.type === FRAME.DATA && f.streamId === 1 && f !== d1);
      expect(d2!.payload.length).toBe(1);
      c.send(windowUpdateFrame(1, 100));
      const last = await c.waitForFrame((f) => f.type === FRAME.DATA && (f.flags & FLAG.END_STREAM) !== 0);
      expect(last!.payload.length).toBe(6);
    } finally {
      c.destroy();
    }
  });

  it('a stream window pushed past 2^31-1: RST_STREAM(FLOW_CONTROL_ERROR); the connection window: GOAWAY(FLOW_CONTROL_ERROR)', async () => {
    apps.set('/hold', () => {});
    const c = await open();
    c.send(get(1, '/hold'), windowUpdateFrame(1, 0x7fffffff));
    const f = await c.waitForReset(1);
    expect(f?.type).toBe(FRAME.RST_STREAM);
    expect(errorCodeOf(f!)).toBe(H2_ERROR.FLOW_CONTROL_ERROR);
    c.send(windowUpdateFrame(0, 0x7fffffff), windowUpdateFrame(0, 0x7fffffff));
    const g = await c.waitForFrame(isGoaway);
    expect(g && errorCodeOf(g)).toBe(H2_ERROR.FLOW_CONTROL_ERROR);
  });

  it('WINDOW_UPDATE only as the application consumes: a reader that pushes back gets no more window until it resumes', async () => {
    let req: Http2Request | null = null;
    let got = 0;
    let accept = false;
    apps.set('/slow-reader', (r) => {
      req = r;
      r.attachBody({ data: (chunk) => ((got += chunk.length), accept), end: () => {}, error: () => {} } satisfies BodySink);
    });
    const c = await open();
    try {
      c.send(post(1, '/slow-reader'));
      expect(await sync(c, 5)).toBe(true); // dispatched: the reader is attached before any DATA
      for (let i = 0; i < 4; i++) c.send(dataFrame(1, Buffer.alloc(16_384)));
      expect(await sync(c, 6)).toBe(true);
      expect(got).toBe(65_536);
      expect(c.frames.filter((f) => f.type === FRAME.WINDOW_UPDATE && f.streamId === 1)).toHaveLength(0);
      // The stream window is used up: one more byte is an overrun.
      accept = true;
      req!.resume();
      const wu = await c.waitForFrame((f) => f.type === FRAME.WINDOW_UPDATE && f.streamId === 1);
      expect(wu!.payload.readUInt32BE(0)).toBe(65_536);
    } finally {
      c.destroy();
    }
  });

  it('DATA past the stream window we advertised: RST_STREAM(FLOW_CONTROL_ERROR)', async () => {
    apps.set('/never-reads', () => {});
    const c = await open();
    try {
      c.send(post(1, '/never-reads'));
      for (let i = 0; i < 4; i++) c.send(dataFrame(1, Buffer.alloc(16_384)));
      c.send(dataFrame(1, 'x'));
      const f = await c.waitForReset(1);
      expect(f?.type).toBe(FRAME.RST_STREAM);
      expect(errorCodeOf(f!)).toBe(H2_ERROR.FLOW_CONTROL_ERROR);
    } finally {
      c.destroy();
    }
  });
});

describe('limits and floods', () => {
  it('content-length longer than the DATA sent: stream error PROTOCOL_ERROR, the body never completes', async () => {
    let ended = false;
    let failed = false;
    apps.set('/cl', (r) => r.attachBody({ data: () => true, end: () => (ended = true), error: () => (failed = true) }));
    const c = await open();
    try {
      c.send(post(1, '/cl', [['content-length', '10']]));
      expect(await sync(c, 7)).toBe(true);
      c.send(dataFrame(1, 'hello', true));
      const f = await c.waitForReset(1);
      expect(f && errorCodeOf(f)).toBe(H2_ERROR.PROTOCOL_ERROR);
      expect(ended).toBe(false);
      expect(failed).toBe(true);
    } finally {
      c.destroy();
    }
  });

  it('a header block past maxRequestHeaderBytes: RST_STREAM(ENHANCE_YOUR_CALM), the HPACK state stays usable', async () => {
    const c = await open();
    try {
      c.send(headersFrame(1, Buffer.concat([headerBlock(requestFields('/big')), hpackLiteral('x-big', 'v'.repeat(5_000))]), { endStream: true }));
      const f = await c.waitForReset(1);
      expect(f && errorCodeOf(f)).toBe(H2_ERROR.ENHANCE_YOUR_CALM);
      c.send(get(3, '/next'));
      const h = await c.waitForFrame((x) => x.type === FRAME.HEADERS && x.streamId === 3);
      expect(responseStatus(h!.payload)).toBe(200);
    } finally {
      c.destroy();
    }
  });

  it('more streams than advertised: REFUSED_STREAM before our SETTINGS are acknowledged', async () => {
    apps.set('/hold', () => {});
    const c = await RawH2Connection.open(port);
    c.autoAckSettings = false;
    try {
      const frames: Buffer[] = [];
      for (let i = 0; i <= limits.http2MaxConcurrentStreams; i++) frames.push(get(1 + 2 * i, '/hold'));
      c.send(...frames);
      const f = await c.waitForFrame((x) => x.type === FRAME.RST_STREAM);
      expect(f!.streamId).toBe(1 + 2 * limits.http2MaxConcurrentStreams);
      expect(errorCodeOf(f!)).toBe(H2_ERROR.REFUSED_STREAM);
      expect(c.goaway()).toBeUndefined();
    } finally {
      c.destroy();
    }
  });

  it('rapid reset: past the premature-reset ratio the connection is closed with ENHANCE_YOUR_CALM, and nothing reset was dispatched', async () => {
    const before = seen.length;
    const c = await open();
    const pairs: Buffer[] = [];
    for (let i = 0; i < 300; i++) pairs.push(get(1 + 2 * i, `/rr-${i}`), rstStreamFrame(1 + 2 * i, H2_ERROR.CANCEL));
    await c.sendAndFlush(Buffer.concat(pairs));
    const g = await c.waitForFrame(isGoaway);
    expect(g && errorCodeOf(g)).toBe(H2_ERROR.ENHANCE_YOUR_CALM);
    expect(await c.waitClosed()).toBe(true);
    expect(seen.slice(before).filter((p) => p.startsWith('/rr-'))).toHaveLength(0);
  });

  it('a CONTINUATION flood closes the connection once the block passes its bound', async () => {
    const c = await open();
    c.send(headersFrame(1, headerBlock(requestFields('/cont')), { endStream: true, endHeaders: false }));
    const flood: Buffer[] = [];
    for (let i = 0; i < 500; i++) flood.push(continuationFrame(1, Buffer.alloc(0), false));
    await c.sendAndFlush(Buffer.concat(flood));
    const g = await c.waitForFrame(isGoaway);
    expect(g && errorCodeOf(g)).toBe(H2_ERROR.ENHANCE_YOUR_CALM);
    expect(await c.waitClosed()).toBe(true);
  });

  it('a response complete before the request body: the rest is dropped with its window returned, then RST_STREAM(NO_ERROR) past 1 MiB', async () => {
    apps.set('/early', (_req, res) => {
      res.writeHead(413);
      res.end();
    });
    const c = await open();
    try {
      c.send(post(1, '/early'));
      const h = await c.waitForFrame((x) => x.type === FRAME.HEADERS && x.streamId === 1);
      expect(h!.flags & FLAG.END_STREAM).toBe(FLAG.END_STREAM);
      let granted = 65_536;
      let sent = 0;
      while (sent <= 1 << 20 && !c.frames.some((f) => f.type === FRAME.RST_STREAM)) {
        const n = Math.min(16_384, granted - sent);
        if (n > 0) {
          c.send(dataFrame(1, Buffer.alloc(n)));
          sent += n;
        }
        await sync(c, 100 + sent);
        granted = 65_536 + c.frames.filter((f) => f.type === FRAME.WINDOW_UPDATE && f.streamId === 1).reduce((a, f) => a + f.payload.readUInt32BE(0), 0);
        expect(granted).toBeGreaterThan(sent); // the window keeps coming back while the body is dropped
      }
      const f = await c.waitForReset(1);
      expect(f?.type).toBe(FRAME.RST_STREAM);
      expect(errorCodeOf(f!)).toBe(H2_ERROR.NO_ERROR);
      expect(c.goaway()).toBeUndefined();
    } finally {
      c.destroy();
    }
  });
});
