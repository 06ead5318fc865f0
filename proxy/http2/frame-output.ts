// One connection's outgoing frames, either role: queued during a turn of the event loop and written in one socket write.
import type { Socket } from 'node:net';
import { Flag, FrameType } from './frame-reader.ts';
import { writeFrameHeader } from './frame-writer.ts';

/** Output up to this size is joined into one buffer and one socket write. */
const JOIN_LIMIT = 64 * 1024;
/** Past JOIN_LIMIT, payloads this large are written as they are (writev) instead of copied. */
const BY_REFERENCE = 4 * 1024;

/** What a queued item is: a frame whose header is written at flush time, or bytes sent as given. */
const RAW = -1;
/** Where header blocks are copied until the flush (`headerBlock`): no buffer per block. Grown as needed. */
const BLOCKS_SIZE = 1024;
/** Larger blocks are not copied there (a connection keeps that buffer). */
const MAX_COPIED = 16 * 1024;

/**
 * Frames are queued as numbers (length, type, flags, stream, a 32-bit payload for RST_STREAM and WINDOW_UPDATE) plus the
 * payload buffer, and their headers are written straight into the one buffer the flush sends: no buffer per frame
 * header or control frame (they were a good part of the garbage of a proxied request).
 */
export class FrameOutput {
  readonly #socket: Socket;
  readonly #afterFlush: () => void;
  /**
   * Per item: payload length (negative for a DATA header whose payload is queued after it), type (RAW for given bytes),
   * flags, stream id, and the 32-bit payload of a 4-byte frame whose buffer is null.
   */
  #meta: number[] = [];
  #bufs: (Buffer | null)[] = [];
  /** Items queued. The arrays are reused (slots overwritten, buffers let go after each flush): two pairs, swapped at
   *  each flush, so that whatever is queued while a flush writes never lands in the arrays being written. */
  #n = 0;
  #spareMeta: number[] = [];
  #spareBufs: (Buffer | null)[] = [];
  #bytes = 0;
  #scheduled = false;
  /** Nothing is written until `release()` (a TLS connection whose ALPN is not checked yet). */
  #held = false;
  /**
   * Header blocks copied in by `headerBlock` (the encoder reuses its buffer for the next block) and the bytes used; two,
   * swapped at each flush as the item arrays are. Made on first use.
   */
  #blocks: Buffer | null = null;
  #blocksUsed = 0;
  #spareBlocks: Buffer | null = null;

  /** `afterFlush` runs after each socket write (the connection wakes writers that waited on it). */
  constructor(socket: Socket, afterFlush: () => void) {
    this.#socket = socket;
    this.#afterFlush = afterFlush;
  }

  /** Bytes queued here and not yet handed to the socket, plus what the socket holds unsent. */
  get unsent(): number {
    return this.#bytes + this.#socket.writableLength;
  }

  /** Bytes sent as they are (the preface, a frame built elsewhere). Not copied: `buf` must not change before the flush. */
  queue(buf: Buffer): void {
    this.#item(buf.length, RAW, 0, 0, 0, buf, buf.length);
  }

  /**
   * Like `queue`, but schedules no write of its own: the bytes go out with whatever is queued next, or at the next
   * `flush()` (the caller bounds how long that may take).
   */
  queueWithNext(buf: Buffer): void {
    const scheduled = this.#scheduled;
    this.#scheduled = true;
    this.#item(buf.length, RAW, 0, 0, 0, buf, buf.length);
    this.#scheduled = scheduled;
  }

  /** A frame with `payload` (kept by reference until the flush; null: empty). */
  frame(type: number, flags: number, streamId: number, payload: Buffer | null): void {
    const n = payload === null ? 0 : payload.length;
    this.#item(n, type, flags, streamId, 0, payload, 9 + n);
  }

  /** A DATA frame header for `length` payload bytes that the caller queues right after it with `queue`. */
  dataHeader(streamId: number, length: number, endStream: boolean): void {
    // A negative length: the header announces -length - 1 bytes but carries none itself.
    this.#item(-length - 1, FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId, 0, null, 9);
  }

  /** RST_STREAM or WINDOW_UPDATE: a frame whose payload is one 32-bit number. */
  frameU32(type: number, streamId: number, value: number): void {
    this.#item(4, type, 0, streamId, value, null, 13);
  }

  /** A header block as HEADERS (+ CONTINUATION frames past `maxFrameSize`); `block` is kept by reference. */
  headers(streamId: number, block: Buffer, endStream: boolean, maxFrameSize: number): void {
    if (block.length <= maxFrameSize) {
      this.frame(FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), streamId, block);
      return;
    }
    for (let p = 0, first = true; p < block.length; first = false) {
      const len = Math.min(maxFrameSize, block.length - p);
      const last = p + len === block.length;
      const type = first ? FrameType.HEADERS : FrameType.CONTINUATION;
      const flags = (last ? Flag.END_HEADERS : 0) | (first && endStream ? Flag.END_STREAM : 0);
      this.frame(type, flags, streamId, block.subarray(p, p + len));
      p += len;
    }
  }

  /**
   * A header block, `src[0, length)`, as one HEADERS frame; copied at once (with Buffer#copy, which makes no view), so
   * the encoder may reuse `src`. The copy of `Buffer.from(view)` cost two typed arrays per block (about 200 bytes of
   * garbage). A block larger than a frame (or MAX_COPIED) goes the way of `headers`.
   */
  headerBlock(streamId: number, src: Buffer, length: number, endStream: boolean, maxFrameSize: number): void {
    if (length > Math.min(maxFrameSize, MAX_COPIED)) return this.headers(streamId, Buffer.from(src.subarray(0, length)), endStream, maxFrameSize);
    let blocks = this.#blocks;
    let at = this.#blocksUsed;
    if (blocks === null || at + length > blocks.length) {
      // Items already queued keep the buffer they were copied into.
      blocks = this.#blocks = Buffer.allocUnsafeSlow(Math.max(2 * (blocks?.length ?? 0), length, BLOCKS_SIZE));
      at = 0;
    }
    src.copy(blocks, at, 0, length);
    this.#blocksUsed = at + length;
    // The 32-bit slot holds where the block starts, plus one (0: a frame whose payload is the whole buffer).
    this.#item(length, FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), streamId, at + 1, blocks, 9 + length);
  }

  /** Keeps everything queued until `release()`. */
  hold(): void {
    this.#held = true;
  }

  /** Writes what was held, and from now on as usual. */
  release(): void {
    this.#held = false;
    this.flush();
  }

  /** Drops what is queued (the socket is gone). */
  clear(): void {
    this.#bufs.fill(null, 0, this.#n);
    this.#n = 0;
    this.#bytes = 0;
    this.#blocksUsed = 0;
  }

  #item(length: number, type: number, flags: number, streamId: number, u32: number, buf: Buffer | null, size: number): void {
    const i = this.#n++;
    const meta = this.#meta;
    const m = i * 5;
    meta[m] = length;
    meta[m + 1] = type;
    meta[m + 2] = flags;
    meta[m + 3] = streamId;
    meta[m + 4] = u32;
    this.#bufs[i] = buf;
    this.#bytes += size;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#task);
    }
  }

  readonly #task = (): void => {
    this.flush();
  };

  flush(): void {
    this.#scheduled = false;
    const bytes = this.#bytes;
    if (bytes === 0 || this.#held) return;
    const meta = this.#meta;
    const bufs = this.#bufs;
    const n = this.#n;
    const socket = this.#socket;
    const blocks = this.#blocks;
    this.#meta = this.#spareMeta;
    this.#bufs = this.#spareBufs;
    this.#blocks = this.#spareBlocks;
    this.#n = 0;
    this.#bytes = 0;
    this.#blocksUsed = 0;
    const writable = !socket.destroyed && socket.writable;
    if (writable) {
      if (n === 1 && meta[1] === RAW) socket.write(bufs[0]!);
      else if (bytes <= JOIN_LIMIT) socket.write(this.#join(meta, bufs, 0, n, bytes));
      else this.#writeLarge(meta, bufs, n);
    }
    bufs.fill(null, 0, n);
    this.#spareMeta = meta;
    this.#spareBufs = bufs;
    this.#spareBlocks = blocks;
    if (writable) this.#afterFlush();
  }

  /** Items [from, to) in one new buffer of `size` bytes. */
  #join(meta: readonly number[], bufs: readonly (Buffer | null)[], from: number, to: number, size: number): Buffer {
    const out = Buffer.allocUnsafe(size);
    let o = 0;
    for (let i = from; i < to; i++) {
      const m = i * 5;
      const type = meta[m + 1]!;
      const buf = bufs[i]!;
      if (type !== RAW) {
        const length = meta[m]!;
        writeFrameHeader(out, o, length < 0 ? -length - 1 : length, type, meta[m + 2]!, meta[m + 3]!);
        o += 9;
        if (buf === null) {
          if (length === 4) o = out.writeUInt32BE(meta[m + 4]!, o);
          continue;
        }
        const from = meta[m + 4]!;
        if (from !== 0) {
          // A header block: `length` bytes of the blocks buffer (headerBlock).
          buf.copy(out, o, from - 1, from - 1 + length);
          o += length;
          continue;
        }
      }
      // TypedArray#set, not Buffer#copy: the same bytes without Node's argument checks and native call per payload.
      out.set(buf, o);
      o += buf.length;
    }
    return out;
  }

  /** More than JOIN_LIMIT: small items joined in runs, large payloads written as they are, all in one corked write. */
  #writeLarge(meta: readonly number[], bufs: readonly (Buffer | null)[], n: number): void {
    const socket = this.#socket;
    socket.cork();
    let from = 0;
    let size = 0;
    for (let i = 0; i < n; i++) {
      const buf = bufs[i];
      // A frame is its header and `length` payload bytes (none for a DATA header, whose length is negative).
      const itemSize = meta[i * 5 + 1] === RAW ? buf!.length : 9 + Math.max(meta[i * 5]!, 0);
      if (buf != null && buf.length > BY_REFERENCE && meta[i * 5 + 1] === RAW) {
        if (i > from) socket.write(this.#join(meta, bufs, from, i, size));
        socket.write(buf);
        from = i + 1;
        size = 0;
        continue;
      }
      if (size + itemSize > JOIN_LIMIT && i > from) {
        socket.write(this.#join(meta, bufs, from, i, size));
        from = i;
        size = 0;
      }
      size += itemSize;
    }
    if (n > from) socket.write(this.#join(meta, bufs, from, n, size));
    socket.uncork();
  }
}
