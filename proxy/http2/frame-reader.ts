// Splits an HTTP/2 byte stream into frames (RFC 9113 4.1): payloads are views into the received chunks, copied only across chunks.

/** Frame types (RFC 9113 6). */
export const FrameType = {
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

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/**
 * Receives each frame: its payload is `buf[start, end)`, valid only during the call (`buf` may be reused). Given as a
 * range, not a view: a handler makes a view only of the payloads it keeps or reads as a Buffer (a typed array per frame
 * was a good part of a request's garbage; a HEADERS payload goes to the HPACK decoder as it is).
 */
export interface FrameHandler {
  onFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): void;
  /** A frame header announced more than the maximum frame size: a connection error of type FRAME_SIZE_ERROR. */
  onFrameTooLarge(type: number, streamId: number, length: number): void;
}

export class FrameReader {
  /** SETTINGS_MAX_FRAME_SIZE we advertised. */
  maxFrameSize = 16_384;
  #pending: Buffer | null = null;
  #stopped = false;
  readonly #handler: FrameHandler;

  constructor(handler: FrameHandler) {
    this.#handler = handler;
  }

  /** No more frames are delivered (the connection failed). */
  stop(): void {
    this.#stopped = true;
    this.#pending = null;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.#pending !== null) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = null;
    }
    let p = 0;
    const end = buf.length;
    const h = this.#handler;
    while (!this.#stopped && end - p >= 9) {
      const len = (buf[p]! << 16) | (buf[p + 1]! << 8) | buf[p + 2]!;
      const type = buf[p + 3]!;
      const streamId = buf.readUInt32BE(p + 5) & 0x7fffffff;
      if (len > this.maxFrameSize) {
        this.#stopped = true;
        h.onFrameTooLarge(type, streamId, len);
        return;
      }
      if (end - p - 9 < len) break;
      const flags = buf[p + 4]!;
      const start = p + 9;
      p = start + len;
      h.onFrame(type, flags, streamId, buf, start, p);
    }
    if (!this.#stopped && p < end) this.#pending = p === 0 ? buf : Buffer.from(buf.subarray(p));
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#pending?.length ?? 0;
  }
}
