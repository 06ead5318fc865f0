// A raw HTTP/2 frame writer and reader for hostile-input tests: it sends whatever bytes a test asks for, malformed included.
import net from 'node:net';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export const H2_ERROR = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

export const SETTING = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** One frame: 9-byte header + payload. The length field is the payload's real length unless `lengthOverride` lies. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0), lengthOverride?: number): Buffer {
  const head = Buffer.alloc(9);
  const len = lengthOverride ?? payload.length;
  head.writeUIntBE(len, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export function settingsFrame(settings: readonly (readonly [number, number])[] = [], ack = false): Buffer {
  const p = Buffer.alloc(settings.length * 6);
  settings.forEach(([id, value], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, ack ? FLAG.ACK : 0, 0, p);
}

export function headersFrame(streamId: number, block: Buffer, opts: { endStream?: boolean; endHeaders?: boolean } = {}): Buffer {
  const flags = (opts.endStream ? FLAG.END_STREAM : 0) | (opts.endHeaders === false ? 0 : FLAG.END_HEADERS);
  return frame(FRAME.HEADERS, flags, streamId, block);
}

export function continuationFrame(streamId: number, block: Buffer, endHeaders: boolean): Buffer {
  return frame(FRAME.CONTINUATION, endHeaders ? FLAG.END_HEADERS : 0, streamId, block);
}

export function dataFrame(streamId: number, data: Buffer | string, endStream = false): Buffer {
  return frame(FRAME.DATA, endStream ? FLAG.END_STREAM : 0, streamId, Buffer.isBuffer(data) ? data : Buffer.from(data));
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code, 0);
  return frame(FRAME.RST_STREAM, 0, streamId, p);
}

export function pingFrame(data = Buffer.alloc(8), ack = false): Buffer {
  return frame(FRAME.PING, ack ? FLAG.ACK : 0, 0, data);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment & 0x7fffffff, 0);
  return frame(FRAME.WINDOW_UPDATE, 0, streamId, p);
}

// ---- HPACK (RFC 7541): enough to hand-craft header blocks -------------------------------------------------------

/** An HPACK integer with an N-bit prefix; `first` holds the pattern bits above the prefix. */
export function hpackInt(value: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function hpackString(s: string | Buffer): Buffer {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(b.length, 7, 0x00), b]); // H=0: raw octets, never Huffman
}

/** "Literal Header Field without Indexing — New Name" (0x00): any bytes at all, CR/LF/NUL included. */
export function hpackLiteral(name: string | Buffer, value: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

/** "Literal Header Field with Incremental Indexing — New Name" (0x40): enters the server's dynamic table. */
export function hpackLiteralIndexed(name: string, value: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
}

/** "Indexed Header Field" (0x80): a reference to a static (1-61) or dynamic (62+) table entry. */
export function hpackIndexed(index: number): Buffer {
  return hpackInt(index, 7, 0x80);
}

/** A header block of literals, in order (pseudo-headers first is the caller's job: tests may break that rule on purpose). */
export function headerBlock(fields: readonly (readonly [string | Buffer, string | Buffer])[]): Buffer {
  return Buffer.concat(fields.map(([n, v]) => hpackLiteral(n, v)));
}

/** A well-formed GET's pseudo-headers. */
export function requestFields(path = '/', authority = 'example.test', method = 'GET'): [string, string][] {
  return [
    [':method', method],
    [':scheme', 'http'],
    [':path', path],
    [':authority', authority],
  ];
}

// ---- reading ----------------------------------------------------------------------------------------------------

/** Splits a byte stream into frames. */
export class FrameReader {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: Frame[] = [];
    while (this.#buf.length >= 9) {
      const len = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + len) break;
      out.push({
        type: this.#buf[3]!,
        flags: this.#buf[4]!,
        streamId: this.#buf.readUInt32BE(5) & 0x7fffffff,
        payload: this.#buf.subarray(9, 9 + len),
      });
      this.#buf = this.#buf.subarray(9 + len);
    }
    return out;
  }
}

/** The error code of a RST_STREAM or GOAWAY frame. */
export function errorCodeOf(f: Frame): number {
  if (f.type === FRAME.RST_STREAM) return f.payload.readUInt32BE(0);
  if (f.type === FRAME.GOAWAY) return f.payload.readUInt32BE(4);
  throw new Error(`frame type ${f.type} has no error code`);
}

// HPACK Huffman codes of the ten digits (RFC 7541 Appendix B), enough to read a :status sent as a Huffman literal.
const HUFFMAN_DIGITS: readonly (readonly [string, number])[] = [
  ['00000', 0], ['00001', 1], ['00010', 2], ['011001', 3], ['011010', 4],
  ['011011', 5], ['011100', 6], ['011101', 7], ['011110', 8], ['011111', 9],
];
// Static-table entries 8-14 are ":status" with these values.
const STATIC_STATUS: Readonly<Record<number, number>> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

function readInt(b: Buffer, pos: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  let v = b[pos]! & max;
  pos++;
  if (v < max) return [v, pos];
  let m = 0;
  for (;;) {
    const c = b[pos++]!;
    v += (c & 0x7f) * 2 ** m;
    m += 7;
    if ((c & 0x80) === 0) return [v, pos];
  }
}

function huffmanDigits(b: Buffer): number | null {
  let bits = '';
  for (const x of b) bits += x.toString(2).padStart(8, '0');
  let out = '';
  let i = 0;
  outer: while (i < bits.length) {
    for (const [code, d] of HUFFMAN_DIGITS) {
      if (bits.startsWith(code, i)) {
        out += String(d);
        i += code.length;
        continue outer;
      }
    }
    // The rest must be EOS padding (all ones, < 8 bits).
    if (bits.length - i < 8 && /^1*$/.test(bits.slice(i))) break;
    return null;
  }
  return out === '' ? null : Number(out);
}

/**
 * The :status of a response header block. Servers put :status first; it is either a static-table reference or a
 * literal with name index 8 whose value is raw or Huffman-coded digits. Returns null if the block starts otherwise.
 */
export function responseStatus(block: Buffer): number | null {
  let pos = 0;
  // Skip dynamic table size updates (001xxxxx).
  while (pos < block.length && (block[pos]! & 0xe0) === 0x20) pos = readInt(block, pos, 5)[1];
  const first = block[pos];
  if (first === undefined) return null;
  if (first & 0x80) {
    const [idx] = readInt(block, pos, 7);
    return STATIC_STATUS[idx] ?? null;
  }
  const prefix = (first & 0xc0) === 0x40 ? 6 : 4;
  const [nameIdx, p1] = readInt(block, pos, prefix);
  if (nameIdx < 8 || nameIdx > 14) return null;
  const huffman = (block[p1]! & 0x80) !== 0;
  const [len, p2] = readInt(block, p1, 7);
  const raw = block.subarray(p2, p2 + len);
  return huffman ? huffmanDigits(raw) : Number(raw.toString('latin1'));
}

/** A raw HTTP/2 client connection: sends any bytes, records every frame received and whether the peer closed. */
export class RawH2Connection {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  #reader = new FrameReader();
  #waiters: (() => void)[] = [];
  #closed = false;
  readonly closed: Promise<void>;
  /** Answer the server's SETTINGS with an ACK, as a well-behaved client does. */
  autoAckSettings = true;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        this.#closed = true;
        resolve();
        this.#wake();
      });
    });
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.#reader.push(chunk)) {
        this.frames.push(f);
        if (this.autoAckSettings && f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0 && this.writable) {
          socket.write(settingsFrame([], true));
        }
      }
      this.#wake();
    });
  }

  /** Connects and sends the preface and our SETTINGS (unless `preface` is false). */
  static async open(port: number, opts: { preface?: boolean; settings?: readonly (readonly [number, number])[] } = {}): Promise<RawH2Connection> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new RawH2Connection(socket);
    if (opts.preface !== false) c.send(PREFACE, settingsFrame(opts.settings ?? []));
    return c;
  }

  /** Waits for the server's SETTINGS (which we ACK), so nothing of ours lands inside a header block the test sends next. */
  async handshake(deadlineMs = 5_000): Promise<void> {
    const f = await this.waitForFrame((x) => x.type === FRAME.SETTINGS && (x.flags & FLAG.ACK) === 0, deadlineMs);
    if (!f) throw new Error('no SETTINGS from the server');
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get writable(): boolean {
    return !this.#closed && this.socket.writable && !this.socket.destroyed;
  }

  send(...chunks: Buffer[]): void {
    if (this.writable) this.socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  /** Writes and waits until the kernel took the bytes (or the peer closed), so a flood is really sent. */
  async sendAndFlush(data: Buffer): Promise<boolean> {
    if (!this.writable) return false;
    return new Promise<boolean>((resolve) => {
      this.socket.write(data, (err) => resolve(!err));
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves with the first received frame matching `pred`, or null if the connection closed or the deadline passed first. */
  async waitForFrame(pred: (f: Frame) => boolean, deadlineMs = 5_000): Promise<Frame | null> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (this.#closed || Date.now() >= end) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, end - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for RST_STREAM on `streamId` or GOAWAY, whichever comes first. */
  async waitForReset(streamId: number, deadlineMs = 5_000): Promise<Frame | null> {
    return this.waitForFrame((f) => (f.type === FRAME.RST_STREAM && f.streamId === streamId) || f.type === FRAME.GOAWAY, deadlineMs);
  }

  /** Resolves true if the peer closed the connection before the deadline. */
  async waitClosed(deadlineMs = 5_000): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.closed.then(() => true), new Promise<boolean>((resolve) => (t = setTimeout(() => resolve(false), deadlineMs)))]);
    clearTimeout(t);
    return r;
  }

  framesOn(streamId: number): Frame[] {
    return this.frames.filter((f) => f.streamId === streamId);
  }

  goaway(): Frame | undefined {
    return this.frames.find((f) => f.type === FRAME.GOAWAY);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
