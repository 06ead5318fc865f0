// A header block being received, either role: a HEADERS frame and its CONTINUATIONs on one stream, joined at END_HEADERS
// (RFC 9113 6.2, 6.10), bounded however it is fragmented (RELIABILITY 4: CONTINUATION flood).
import { Flag } from './frame-reader.ts';
import { H2Error } from './h2-codes.ts';

/** CONTINUATION frames per header block: a block this fragmented is a flood, not a message. */
const MAX_CONTINUATIONS = 128;

export class HeaderBlock {
  /** The stream whose block is open, or 0 (nothing else may arrive while one is open). */
  stream = 0;
  /** The HEADERS frame ended the stream. */
  endStream = false;
  /** The stream the HEADERS frame's priority made it depend on, or -1 (a stream depending on itself is an error). */
  dependency = -1;
  /** END_HEADERS has arrived: `take()` the block. */
  complete = false;
  /** Bytes a block may reach with its framing overhead; past it: ENHANCE_YOUR_CALM. */
  readonly #maxBytes: number;
  /** The HEADERS frame's fragment, and the CONTINUATIONs' (null until there is one: most blocks are one frame). */
  #first: Buffer | null = null;
  #more: Buffer[] | null = null;
  #bytes = 0;
  #frames = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** A HEADERS frame on stream `id`. Returns 0, or the connection error code (bad padding or priority fields). */
  begin(flags: number, id: number, payload: Buffer): number {
    let p = 0;
    let end = payload.length;
    if ((flags & Flag.PADDED) !== 0) {
      if (payload.length === 0) return H2Error.PROTOCOL_ERROR;
      p = 1;
      end -= payload[0]!;
    }
    this.dependency = -1;
    if ((flags & Flag.PRIORITY) !== 0) {
      if (end - p < 5) return H2Error.PROTOCOL_ERROR;
      this.dependency = payload.readUInt32BE(p) & 0x7fffffff;
      p += 5;
    }
    if (end < p) return H2Error.PROTOCOL_ERROR;
    const fragment = p === 0 && end === payload.length ? payload : payload.subarray(p, end);
    this.stream = id;
    this.endStream = (flags & Flag.END_STREAM) !== 0;
    this.complete = (flags & Flag.END_HEADERS) !== 0;
    // Payloads are views of read buffers that live on: kept as they are until the block is complete.
    this.#first = fragment;
    this.#more = null;
    this.#bytes = fragment.length;
    this.#frames = 0;
    return 0;
  }

  /** A CONTINUATION frame. Returns 0, or the connection error code (not continuing the open block, or too large). */
  add(flags: number, id: number, payload: Buffer): number {
    if (this.stream === 0 || id !== this.stream) return H2Error.PROTOCOL_ERROR;
    this.#bytes += payload.length;
    if (++this.#frames > MAX_CONTINUATIONS || this.#bytes > this.#maxBytes) return H2Error.ENHANCE_YOUR_CALM;
    (this.#more ??= []).push(payload);
    this.complete = (flags & Flag.END_HEADERS) !== 0;
    return 0;
  }

  /** The whole block; the next frame may start another. */
  take(): Buffer {
    const first = this.#first!;
    const more = this.#more;
    this.#first = this.#more = null;
    this.stream = 0;
    this.complete = false;
    return more === null ? first : Buffer.concat([first, ...more]);
  }

  /** Drops an open block (the connection failed). */
  reset(): void {
    this.#first = this.#more = null;
    this.stream = 0;
    this.complete = false;
  }
}
