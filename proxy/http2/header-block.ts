// A header block being received, either role: a HEADERS frame and its CONTINUATIONs on one stream, joined at END_HEADERS
// (RFC 9113 6.2, 6.10), bounded however it is fragmented (RELIABILITY 4: CONTINUATION flood).
import { Flag } from './frame-reader.ts';
import { H2Error } from './h2-codes.ts';
import type { FieldSink, HpackDecoder } from './hpack-decoder.ts';

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
  /** The HEADERS frame's fragment, `#first[#start, #end)`, and the CONTINUATIONs' (null until there is one: most blocks are one frame). */
  #first: Buffer | null = null;
  #start = 0;
  #end = 0;
  #more: Buffer[] | null = null;
  #bytes = 0;
  #frames = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** A HEADERS frame on stream `id`, its payload `buf[start, end)`. Returns 0, or the connection error code (bad padding or priority fields). */
  begin(flags: number, id: number, buf: Buffer, start: number, end: number): number {
    let p = start;
    if ((flags & Flag.PADDED) !== 0) {
      if (end === start) return H2Error.PROTOCOL_ERROR;
      p++;
      end -= buf[start]!;
    }
    this.dependency = -1;
    if ((flags & Flag.PRIORITY) !== 0) {
      if (end - p < 5) return H2Error.PROTOCOL_ERROR;
      this.dependency = buf.readUInt32BE(p) & 0x7fffffff;
      p += 5;
    }
    if (end < p) return H2Error.PROTOCOL_ERROR;
    this.stream = id;
    this.endStream = (flags & Flag.END_STREAM) !== 0;
    this.complete = (flags & Flag.END_HEADERS) !== 0;
    // Read buffers are not reused: the fragment is kept where it is until the block is complete.
    this.#first = buf;
    this.#start = p;
    this.#end = end;
    this.#more = null;
    this.#bytes = end - p;
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

  /** Decodes the whole block into `sink` (throws HpackError as the decoder does); the next frame may start another. */
  decode(decoder: HpackDecoder, sink: FieldSink): void {
    const first = this.#first!;
    const more = this.#more;
    this.#first = this.#more = null;
    this.stream = 0;
    this.complete = false;
    if (more === null) decoder.decode(first, sink, this.#start, this.#end);
    else decoder.decode(Buffer.concat([first.subarray(this.#start, this.#end), ...more]), sink);
  }

  /** Drops an open block (the connection failed). */
  reset(): void {
    this.#first = this.#more = null;
    this.stream = 0;
    this.complete = false;
  }
}
