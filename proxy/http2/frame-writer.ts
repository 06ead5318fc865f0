// Builds HTTP/2 frames (RFC 9113 6): small control frames as one buffer, headers split into HEADERS + CONTINUATION.
import { Flag, FrameType } from './frame-reader.ts';

/** A frame header in `buf` at `off`. */
export function writeFrameHeader(buf: Buffer, off: number, length: number, type: number, flags: number, streamId: number): void {
  buf[off] = length >>> 16;
  buf[off + 1] = (length >>> 8) & 0xff;
  buf[off + 2] = length & 0xff;
  buf[off + 3] = type;
  buf[off + 4] = flags;
  buf.writeUInt32BE(streamId & 0x7fffffff, off + 5);
}

export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  writeFrameHeader(b, 0, length, type, flags, streamId);
  return b;
}

export function settingsFrame(settings: readonly (readonly [number, number])[], ack = false): Buffer {
  const b = Buffer.allocUnsafe(9 + settings.length * 6);
  writeFrameHeader(b, 0, settings.length * 6, FrameType.SETTINGS, ack ? Flag.ACK : 0, 0);
  let o = 9;
  for (const [id, v] of settings) {
    b.writeUInt16BE(id, o);
    b.writeUInt32BE(v, o + 2);
    o += 6;
  }
  return b;
}

export function pingFrame(opaque: Buffer, ack: boolean): Buffer {
  const b = Buffer.allocUnsafe(17);
  writeFrameHeader(b, 0, 8, FrameType.PING, ack ? Flag.ACK : 0, 0);
  opaque.copy(b, 9, 0, 8);
  return b;
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const b = Buffer.allocUnsafe(13);
  writeFrameHeader(b, 0, 4, FrameType.RST_STREAM, 0, streamId);
  b.writeUInt32BE(code, 9);
  return b;
}

export function goawayFrame(lastStreamId: number, code: number, debug = ''): Buffer {
  const d = Buffer.from(debug, 'latin1');
  const b = Buffer.allocUnsafe(17 + d.length);
  writeFrameHeader(b, 0, 8 + d.length, FrameType.GOAWAY, 0, 0);
  b.writeUInt32BE(lastStreamId & 0x7fffffff, 9);
  b.writeUInt32BE(code, 13);
  d.copy(b, 17);
  return b;
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const b = Buffer.allocUnsafe(13);
  writeFrameHeader(b, 0, 4, FrameType.WINDOW_UPDATE, 0, streamId);
  b.writeUInt32BE(increment, 9);
  return b;
}

/** A header block as HEADERS (+ CONTINUATION frames when it exceeds `maxFrameSize`), in one buffer. */
export function headersFrames(streamId: number, block: Buffer, endStream: boolean, maxFrameSize: number): Buffer {
  const n = block.length <= maxFrameSize ? 1 : Math.ceil(block.length / maxFrameSize);
  const out = Buffer.allocUnsafe(block.length + 9 * n);
  let o = 0;
  for (let i = 0, p = 0; i < n; i++) {
    const len = Math.min(maxFrameSize, block.length - p);
    const last = i === n - 1;
    const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (last ? Flag.END_HEADERS : 0) | (i === 0 && endStream ? Flag.END_STREAM : 0);
    writeFrameHeader(out, o, len, type, flags, streamId);
    block.copy(out, o + 9, p, p + len);
    o += 9 + len;
    p += len;
  }
  return out;
}

/** A DATA frame header for `length` payload bytes (the payload itself is written after it, uncopied). */
export function dataFrameHeader(streamId: number, length: number, endStream: boolean): Buffer {
  return frameHeader(length, FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId);
}
