// One downstream HTTP/2 connection on a raw socket (RFC 9113): preface, SETTINGS, the stream state machine, flow control, limits.
import type { Socket } from 'node:net';
import type { LimitsConfig } from '../../api/config/proxy-config.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import { Flag, FrameReader, FrameType, type FrameHandler } from './frame-reader.ts';
import { encodeFields, encodeTrailers, isEmptyObject } from './field-encoding.ts';
import { FrameOutput } from './frame-output.ts';
import { goawayFrame, pingFrame, settingsFrame } from './frame-writer.ts';
import { DEFAULT_WINDOW, H2Error, MAX_WINDOW, PREFACE, Setting } from './h2-codes.ts';
import { HpackDecoder, HpackError } from './hpack-decoder.ts';
import { HpackEncoder } from './hpack-encoder.ts';
import { RecvWindow, grow } from './flow-window.ts';
import { PeerSettings } from './peer-settings.ts';
import { sendData } from './send-data.ts';
import { ClosedStreams } from './closed-streams.ts';
import { HeaderBlock } from './header-block.ts';
import { FieldsVerdict, HeaderFields } from './header-fields.ts';
import { Http2Request, Http2Response, type StreamWriter } from './server-exchange.ts';

export interface Http2ServerHooks {
  onRequest(req: Http2Request, res: Http2Response): void;
}

/** How a stream we no longer track was closed: what a late frame on it means (RFC 9113 5.1). */
const CLOSED_END = 1; // the client sent END_STREAM: later frames are a connection error STREAM_CLOSED
const CLOSED_PEER_RESET = 2; // the client reset it: later frames are a stream error STREAM_CLOSED
const CLOSED_WE_RESET = 3; // we reset it: the client may not know yet, later frames are ignored
/** How many closed streams we remember (older ones count as "closed, cause unknown"). */
const CLOSED_MEMORY = 256;

/** Frames that make us do work without making progress (PING, SETTINGS, PRIORITY, empty DATA/CONTINUATION, unknown types). */
const CALM_BURST = 1_000;
const CALM_REFILL_PER_SEC = 200;
/** Premature resets (the client's, or ours for malformed requests) tolerated before the ratio counts (CVE-2023-44487). */
const PREMATURE_RESET_MIN = 200;
/** Control frames (ACKs, resets) we will queue on a socket whose peer does not read. */
const MAX_UNREAD_OUTPUT = 1 << 20;
/** After a connection error, streams already accepted get this long to finish before the socket is closed. */
const ERROR_GRACE_MS = 1_000;
/** Request body bytes dropped after a complete response before the client is asked to stop sending. */
const DISCARD_LIMIT = 1 << 20;
/** The longest a PING's ACK waits to go out with other frames (see #answerPing). */
const PING_ACK_HOLD_MS = 10;

/** Connection phases, in order. */
const Phase = {
  PREFACE: 0,
  SETTINGS: 1,
  OPEN: 2,
  /** GOAWAY sent: no new streams; the connection closes when the last one is done. */
  CLOSING: 3,
  /** A connection error: GOAWAY sent, nothing more is read; streams already taken may finish within a grace. */
  FAILED: 4,
  /** The socket is ending or gone. */
  CLOSED: 5,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

export class Http2ServerConnection implements FrameHandler, StreamWriter {
  readonly socket: Socket;
  readonly #limits: LimitsConfig;
  readonly #hooks: Http2ServerHooks;
  readonly #reader = new FrameReader(this);
  readonly #decoder = new HpackDecoder();
  readonly #encoder = new HpackEncoder();
  readonly #fields: HeaderFields;
  readonly #streams = new Map<number, Http2Response>();
  readonly #closedStreams = new ClosedStreams(CLOSED_MEMORY);
  /** Streams opened in the current read, dispatched at its end (a HEADERS + RST_STREAM pair in one read costs no upstream work). */
  #newStreams: Http2Response[] = [];
  /** Streams with data waiting for the connection window. */
  readonly #blocked = new Set<Http2Response>();
  #phase: Phase = Phase.PREFACE;
  #prefaceBytes: Buffer | null = null;
  #lastStreamId = 0;
  #goawayLastId = MAX_WINDOW;
  readonly #recvWindow: RecvWindow;
  #sendWindow = DEFAULT_WINDOW;
  readonly #peer = new PeerSettings(this.#encoder, Infinity);
  #settingsAcked = false;
  /** A header block in progress (HEADERS without END_HEADERS, then CONTINUATIONs), and since when. */
  readonly #block: HeaderBlock;
  #blockStartedAt = 0;
  // Flood accounting.
  #calm = CALM_BURST;
  #calmAt = 0;
  #streamsOpened = 0;
  #prematureResets = 0;
  readonly #out: FrameOutput;
  /** A stream was told to wait while the connection was congested: tell it once the output is written. */
  #drainWanted = false;
  /** The sweep saw traffic since its last pass; `#idleSince` is when it last did. */
  #active = true;
  #idleSince = 0;
  readonly #createdAt: number;
  #graceTimer: NodeJS.Timeout | null = null;
  /** Bounds how long a held PING ACK waits (#answerPing); `#ackHeld`: one is queued and not written yet. */
  #ackTimer: NodeJS.Timeout | null = null;
  #ackHeld = false;

  constructor(socket: Socket, limits: LimitsConfig, hooks: Http2ServerHooks) {
    this.socket = socket;
    this.#limits = limits;
    this.#hooks = hooks;
    this.#fields = new HeaderFields(limits.maxRequestHeaderBytes, limits.maxHeaderCount);
    this.#block = new HeaderBlock(2 * limits.maxRequestHeaderBytes + 16_384);
    this.#recvWindow = new RecvWindow(limits.http2ConnectionWindowBytes, DEFAULT_WINDOW);
    this.#createdAt = this.#idleSince = Date.now();
    this.#calmAt = performance.now();
    this.#out = new FrameOutput(socket, this.#afterFlush);
    socket.setNoDelay?.(true);
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.once('close', this.#onClose);
    // Our SETTINGS and the connection window go out at once (servers need not wait for the client's preface).
    this.#queue(
      settingsFrame([
        [Setting.MAX_CONCURRENT_STREAMS, limits.http2MaxConcurrentStreams],
        [Setting.INITIAL_WINDOW_SIZE, Math.min(limits.http2StreamWindowBytes, MAX_WINDOW)],
        [Setting.MAX_HEADER_LIST_SIZE, limits.maxRequestHeaderBytes],
        [Setting.ENABLE_PUSH, 0],
      ]),
    );
    const extra = this.#recvWindow.size - DEFAULT_WINDOW;
    if (extra > 0) {
      this.#out.frameU32(FrameType.WINDOW_UPDATE, 0, extra);
      this.#recvWindow.available += extra;
    }
  }

  /** Streams in progress. */
  get activeStreams(): number {
    return this.#streams.size;
  }

  get congested(): boolean {
    return this.#out.unsent > this.#limits.maxBufferedBytesPerConnection;
  }

  // ---- input ------------------------------------------------------------------------------------------------------

  readonly #onData = (chunk: Buffer): void => {
    this.#active = true;
    if (this.#phase === Phase.PREFACE) {
      const buf = this.#prefaceBytes === null ? chunk : Buffer.concat([this.#prefaceBytes, chunk]);
      const n = Math.min(buf.length, PREFACE.length);
      if (buf.compare(PREFACE, 0, n, 0, n) !== 0) {
        // Not HTTP/2 (RFC 9113 3.4): nothing to answer in HTTP/2 terms.
        this.#connectionError(H2Error.PROTOCOL_ERROR);
        return;
      }
      if (buf.length < PREFACE.length) {
        this.#prefaceBytes = buf;
        return;
      }
      this.#prefaceBytes = null;
      this.#phase = Phase.SETTINGS;
      chunk = buf.subarray(PREFACE.length);
      if (chunk.length === 0) return;
    }
    if (this.#phase >= Phase.FAILED) return;
    // Refill the flood budget once per read.
    const now = performance.now();
    this.#calm = Math.min(CALM_BURST, this.#calm + ((now - this.#calmAt) * CALM_REFILL_PER_SEC) / 1000);
    this.#calmAt = now;
    this.#reader.push(chunk);
    this.#dispatchNew();
  };

  /** Streams opened by this read that are still open go to the stack now. */
  #dispatchNew(): void {
    if (this.#newStreams.length === 0) return;
    const list = this.#newStreams;
    this.#newStreams = [];
    for (const res of list) {
      if (res.request.cancelled || this.#streams.get(res.request.id) !== res) continue;
      try {
        this.#hooks.onRequest(res.request, res);
      } catch {
        this.reset(res, H2Error.INTERNAL_ERROR);
      }
    }
  }

  onFrameTooLarge(): void {
    this.#connectionError(H2Error.FRAME_SIZE_ERROR);
  }

  onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.#phase === Phase.SETTINGS && type !== FrameType.SETTINGS) {
      // The client preface ends with a SETTINGS frame (RFC 9113 3.4).
      return this.#connectionError(H2Error.PROTOCOL_ERROR);
    }
    if (this.#block.stream !== 0 && type !== FrameType.CONTINUATION) {
      // Nothing may interleave with a header block (RFC 9113 6.10).
      return this.#connectionError(H2Error.PROTOCOL_ERROR);
    }
    // A HEADERS payload is decoded where it is; the others are read as a view (DATA's is passed on).
    if (type === FrameType.HEADERS) return this.#onHeaders(flags, id, buf, start, end);
    const payload = buf.subarray(start, end);
    switch (type) {
      case FrameType.DATA:
        return this.#onDataFrame(flags, id, payload);
      case FrameType.PRIORITY:
        if (id === 0) return this.#connectionError(H2Error.PROTOCOL_ERROR);
        if (payload.length !== 5) return this.#connectionError(H2Error.FRAME_SIZE_ERROR);
        if (!this.#spend()) return;
        if ((payload.readUInt32BE(0) & 0x7fffffff) === id) return this.#streamError(id, H2Error.PROTOCOL_ERROR);
        return;
      case FrameType.RST_STREAM:
        return this.#onRstStream(id, payload);
      case FrameType.SETTINGS:
        return this.#onSettings(flags, id, payload);
      case FrameType.PUSH_PROMISE:
        return this.#connectionError(H2Error.PROTOCOL_ERROR);
      case FrameType.PING:
        if (id !== 0) return this.#connectionError(H2Error.PROTOCOL_ERROR);
        if (payload.length !== 8) return this.#connectionError(H2Error.FRAME_SIZE_ERROR);
        if (!this.#spend()) return;
        // An ACK answers a PING of ours (we send none): ignored.
        if ((flags & Flag.ACK) === 0) this.#answerPing(payload);
        return;
      case FrameType.GOAWAY:
        if (id !== 0) return this.#connectionError(H2Error.PROTOCOL_ERROR);
        if (payload.length < 8) return this.#connectionError(H2Error.FRAME_SIZE_ERROR);
        // The client opens nothing more: finish what is in progress, then close.
        this.#startClosing(H2Error.NO_ERROR);
        return;
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(id, payload);
      case FrameType.CONTINUATION:
        return this.#onContinuation(flags, id, payload);
      default:
        // Unknown frame types are ignored (RFC 9113 5.5), but not for free.
        this.#spend();
        return;
    }
  }

  /** Takes one unit of the flood budget; past it, GOAWAY(ENHANCE_YOUR_CALM). */
  #spend(): boolean {
    if (--this.#calm >= 0) return true;
    this.#connectionError(H2Error.ENHANCE_YOUR_CALM);
    return false;
  }

  #onDataFrame(flags: number, id: number, payload: Buffer): void {
    if (id === 0) return this.#connectionError(H2Error.PROTOCOL_ERROR);
    const flowLength = payload.length;
    let data = payload;
    if ((flags & Flag.PADDED) !== 0) {
      if (payload.length === 0 || payload[0]! >= payload.length) return this.#connectionError(H2Error.PROTOCOL_ERROR);
      data = payload.subarray(1, payload.length - payload[0]!);
    }
    if (id > this.#lastStreamId) return this.#connectionError(H2Error.PROTOCOL_ERROR);
    // Every DATA frame counts against the connection window, whatever becomes of its stream.
    if (!this.#recvWindow.receive(flowLength)) return this.#connectionError(H2Error.FLOW_CONTROL_ERROR);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (data.length === 0 && !endStream && !this.#spend()) return;
    const res = this.#streams.get(id);
    if (res === undefined) {
      this.#returnConnectionWindow(flowLength);
      return this.#lateFrame(id);
    }
    const req = res.request;
    if (req.remoteClosed) return this.#connectionError(H2Error.STREAM_CLOSED);
    if (!req.window.receive(flowLength)) return this.#streamError(id, H2Error.FLOW_CONTROL_ERROR);
    res.active = true;
    // Padding is consumed on arrival.
    if (flowLength > data.length) this.consumed(req, flowLength - data.length);
    if (data.length > 0) {
      req.received += data.length;
      if (req.contentLength >= 0 && req.received > req.contentLength) {
        // More body than declared: the request is malformed and may be a smuggling attempt. The stream is dropped
        // (never dispatched if it was not yet) and nothing more is read from the connection.
        this.#close(res, CLOSED_WE_RESET);
        return this.#connectionError(H2Error.PROTOCOL_ERROR);
      }
      if (res.discardFrom >= 0 && req.received - res.discardFrom > DISCARD_LIMIT) {
        this.#out.frameU32(FrameType.RST_STREAM, id, H2Error.NO_ERROR);
        return this.#close(res, CLOSED_WE_RESET);
      }
      req.onData(data);
    }
    if (endStream) this.#remoteEnd(res);
  }

  #remoteEnd(res: Http2Response, trailers: HeaderBag | null = null): void {
    const req = res.request;
    if (req.contentLength >= 0 && req.received !== req.contentLength) return this.#streamError(req.id, H2Error.PROTOCOL_ERROR, true);
    req.remoteClosed = true;
    req.onEnd(trailers);
    this.#maybeClose(res);
  }

  /** A DATA or HEADERS frame for a stream we no longer track. */
  #lateFrame(id: number): void {
    const how = this.#closedStreams.get(id);
    if (how === CLOSED_WE_RESET) return;
    if (how === CLOSED_END) return this.#connectionError(H2Error.STREAM_CLOSED);
    this.#streamError(id, H2Error.STREAM_CLOSED);
  }

  #onHeaders(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0 || (id & 1) === 0) return this.#connectionError(H2Error.PROTOCOL_ERROR);
    const error = this.#block.begin(flags, id, buf, start, end);
    if (error !== 0) return this.#connectionError(error);
    if (this.#block.complete) return this.#headerBlock();
    this.#blockStartedAt = Date.now();
  }

  #onContinuation(flags: number, id: number, payload: Buffer): void {
    const error = this.#block.add(flags, id, payload);
    if (error !== 0) return this.#connectionError(error);
    if (payload.length === 0 && !this.#spend()) return;
    if (this.#block.complete) this.#headerBlock();
  }

  /** A complete header block: a new stream's request head, or trailers. */
  #headerBlock(): void {
    const hb = this.#block;
    const id = hb.stream;
    const endStream = hb.endStream;
    // Depending on itself (RFC 9113 5.3.1): a stream error; the block is still decoded to keep HPACK in step.
    const selfDependent = hb.dependency === id;
    const res = this.#streams.get(id);
    const isNew = id > this.#lastStreamId;
    const fields = this.#fields;
    fields.begin(!isNew);
    try {
      hb.decode(this.#decoder, fields.sink);
    } catch (e) {
      if (e instanceof HpackError) return this.#connectionError(H2Error.COMPRESSION_ERROR);
      throw e;
    }
    if (!isNew) {
      if (res === undefined) {
        const how = this.#closedStreams.get(id);
        if (how === CLOSED_WE_RESET) return;
        // A HEADERS frame reopening a stream that was never opened, below one that was (RFC 9113 5.1.1).
        return this.#connectionError(how === undefined ? H2Error.PROTOCOL_ERROR : H2Error.STREAM_CLOSED);
      }
      if (res.request.remoteClosed) return this.#connectionError(H2Error.STREAM_CLOSED);
      // Trailers: they end the stream and carry no pseudo-headers (RFC 9113 8.1); forwarded to an HTTP/2 upstream.
      if (!endStream || fields.finishTrailers() !== FieldsVerdict.OK || selfDependent) return this.#streamError(id, H2Error.PROTOCOL_ERROR, true);
      res.active = true;
      return this.#remoteEnd(res, fields.headers);
    }
    if (this.#phase >= Phase.CLOSING && id > this.#goawayLastId) return; // after our GOAWAY: ignored
    this.#lastStreamId = id;
    if (selfDependent) return this.#streamError(id, H2Error.PROTOCOL_ERROR, true);
    if (this.#streams.size >= this.#limits.http2MaxConcurrentStreams) {
      // Past the limit we advertised: once the client has acknowledged it, a protocol violation (the GOAWAY names the
      // last stream we accepted); before that, the stream is refused and may be retried.
      if (this.#settingsAcked) {
        this.#lastStreamId = id - 2;
        return this.#connectionError(H2Error.PROTOCOL_ERROR);
      }
      return this.#streamError(id, H2Error.REFUSED_STREAM, true);
    }
    const verdict = fields.finishRequest();
    if (verdict !== FieldsVerdict.OK) {
      return this.#streamError(id, verdict === FieldsVerdict.TOO_LARGE ? H2Error.ENHANCE_YOUR_CALM : H2Error.PROTOCOL_ERROR, true);
    }
    this.#streamsOpened++;
    const req = new Http2Request(this, id, fields.headers, endStream, fields.contentLength, this.socket, new RecvWindow(this.#limits.http2StreamWindowBytes));
    const out = new Http2Response(this, req, this.#peer.initialWindow);
    out.lastActive = Date.now();
    this.#streams.set(id, out);
    if (endStream && req.contentLength > 0) return this.#streamError(id, H2Error.PROTOCOL_ERROR, true);
    this.#newStreams.push(out);
  }

  /**
   * The ACK of a client's PING waits for the next frames we write on the connection and goes out in the same socket
   * write, ahead of them, or alone after PING_ACK_HOLD_MS. grpc-go clients PING after every response they read (BDP
   * estimation): answered at once, that was a socket write of 17 bytes per gRPC call, about a third of the outbound
   * proxy's writes (strace), and a write on loopback is the largest single cost of a proxied call. On a busy connection
   * the ACK leaves with the next response; on an idle one it is 10 ms late, which no keepalive or BDP PING minds (their
   * timeouts are seconds; a late ACK only makes the client's RTT sample longer, and while data flows the next write is near).
   */
  #answerPing(payload: Buffer): void {
    if (!this.#controlRoom()) return;
    const ack = pingFrame(payload, true);
    if (this.#phase >= Phase.FAILED) return this.#queue(ack);
    this.#out.queueWithNext(ack);
    // An earlier ACK still waiting: its deadline covers this one too (never pushed back, so ACKs cannot be held forever).
    if (this.#ackHeld) return;
    this.#ackHeld = true;
    // One timer per connection, re-armed per held ACK (on a busy connection it seldom fires: the ACKs leave with responses).
    if (this.#ackTimer === null) {
      this.#ackTimer = setTimeout(this.#flushHeld, PING_ACK_HOLD_MS);
      this.#ackTimer.unref();
    } else this.#ackTimer.refresh();
  }

  readonly #flushHeld = (): void => {
    if (this.#ackHeld && this.#phase !== Phase.CLOSED) this.#flush();
    this.#ackHeld = false;
  };

  #onRstStream(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.#connectionError(H2Error.FRAME_SIZE_ERROR);
    if (id === 0 || id > this.#lastStreamId) return this.#connectionError(H2Error.PROTOCOL_ERROR);
    const res = this.#streams.get(id);
    if (res === undefined) return;
    if (!res.localClosed) this.#premature();
    this.#close(res, CLOSED_PEER_RESET);
  }

  /** A stream ended before its response did (reset by the client, or refused by us for a malformed request). */
  #premature(): void {
    const n = ++this.#prematureResets;
    // Rapid reset (CVE-2023-44487): a connection whose streams mostly end this way is closed, whatever the rate.
    if (n >= PREMATURE_RESET_MIN && n * 2 > this.#streamsOpened) this.#connectionError(H2Error.ENHANCE_YOUR_CALM);
  }

  #onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) return this.#connectionError(H2Error.PROTOCOL_ERROR);
    if ((flags & Flag.ACK) !== 0) {
      if (payload.length !== 0) return this.#connectionError(H2Error.FRAME_SIZE_ERROR);
      this.#settingsAcked = true;
      return;
    }
    if (payload.length % 6 !== 0) return this.#connectionError(H2Error.FRAME_SIZE_ERROR);
    if (this.#phase === Phase.SETTINGS) this.#phase = Phase.OPEN;
    else if (!this.#spend()) return;
    const error = this.#peer.apply(payload, 'server');
    if (error !== 0) return this.#connectionError(error);
    const windowDelta = this.#peer.windowDelta;
    this.#queueControl(settingsFrame([], true));
    if (windowDelta !== 0) {
      // A new initial window applies to every open stream, and may make one negative (RFC 9113 6.9.2).
      for (const res of this.#streams.values()) {
        const w = grow(res.sendWindow, windowDelta);
        if (w === null) return this.#connectionError(H2Error.FLOW_CONTROL_ERROR);
        res.sendWindow = w;
      }
      if (windowDelta > 0) for (const res of this.#streams.values()) this.flush(res);
    }
  }

  #onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.#connectionError(H2Error.FRAME_SIZE_ERROR);
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) return this.#connectionError(H2Error.PROTOCOL_ERROR);
      const w = grow(this.#sendWindow, inc);
      if (w === null) return this.#connectionError(H2Error.FLOW_CONTROL_ERROR);
      this.#sendWindow = w;
      if (this.#blocked.size > 0) {
        const blocked = [...this.#blocked];
        this.#blocked.clear();
        for (const res of blocked) this.flush(res);
      }
      return;
    }
    if (id > this.#lastStreamId) return this.#connectionError(H2Error.PROTOCOL_ERROR);
    const res = this.#streams.get(id);
    if (res === undefined) return;
    if (inc === 0) return this.#streamError(id, H2Error.PROTOCOL_ERROR);
    const w = grow(res.sendWindow, inc);
    if (w === null) return this.#streamError(id, H2Error.FLOW_CONTROL_ERROR);
    res.sendWindow = w;
    res.active = true;
    this.flush(res);
  }

  // ---- stream lifecycle -------------------------------------------------------------------------------------------

  /** A stream error (RFC 9113 5.4.2): RST_STREAM, the stream closed; `premature` counts it toward the rapid-reset ratio. */
  #streamError(id: number, code: number, premature = false): void {
    if (this.#controlRoom()) this.#out.frameU32(FrameType.RST_STREAM, id, code);
    const res = this.#streams.get(id);
    if (res !== undefined) this.#close(res, CLOSED_WE_RESET);
    else this.#remember(id, CLOSED_WE_RESET);
    if (premature) this.#premature();
  }

  #remember(id: number, how: number): void {
    this.#closedStreams.remember(id, how);
  }

  #maybeClose(res: Http2Response): void {
    const req = res.request;
    if (!res.localClosed) return;
    if (req.remoteClosed) return this.#close(res, CLOSED_END);
    // Our answer is complete but the client is still sending a body nobody will read: it is dropped as it arrives (with
    // its window returned) until the client ends the stream, or asked to stop with RST_STREAM(NO_ERROR) (RFC 9113 8.1)
    // once it has sent more than DISCARD_LIMIT since.
    if (!req.cancelled) {
      res.discardFrom = req.received;
      req.discard();
    }
  }

  #close(res: Http2Response, how: number): void {
    const req = res.request;
    if (this.#streams.get(req.id) !== res) return;
    this.#streams.delete(req.id);
    this.#blocked.delete(res);
    this.#remember(req.id, how);
    // Usually empty by now; setting an array's length is a call into the runtime.
    if (res.pending.length !== 0) res.pending.length = 0;
    res.pendingBytes = 0;
    if (how !== CLOSED_END) req.fail(new Error('HTTP/2 stream reset'));
    // Bytes received but never read (a body nobody forwarded) go back to the connection window.
    const held = req.takeHeld();
    if (held > 0) this.#returnConnectionWindow(held);
    res.streamClosed();
    if ((this.#phase === Phase.CLOSING || this.#phase === Phase.FAILED) && this.#streams.size === 0) this.#finish();
  }

  // ---- StreamWriter: the response side ----------------------------------------------------------------------------

  writeHead(res: Http2Response, status: number, headers: Readonly<Record<string, unknown>> | null, endStream: boolean): boolean {
    const id = res.request.id;
    if (this.#streams.get(id) !== res || this.#phase === Phase.CLOSED) return false;
    const enc = this.#encoder;
    enc.begin();
    enc.field(':status', statusText(status));
    if (headers !== null && !encodeFields(enc, headers)) {
      // A head that cannot be sent safely (CR/LF/NUL in a value): the response is cut, never forged.
      enc.abandon();
      this.reset(res, H2Error.INTERNAL_ERROR);
      return false;
    }
    this.#out.headerBlock(id, enc.buffer, enc.length, endStream, this.#peer.maxFrame);
    res.active = true;
    if (endStream) {
      res.localClosed = true;
      this.#maybeClose(res);
    }
    return true;
  }

  flush(res: Http2Response): void {
    const id = res.request.id;
    if (this.#streams.get(id) !== res) return;
    if (res.pendingBytes > 0) {
      const last = res.endPending && res.trailers === null;
      const sent = sendData(res, this.#sendWindow, this.#peer.maxFrame, last, this.#out);
      this.#sendWindow -= sent;
      if (sent > 0) res.active = true;
      if (res.pendingBytes > 0) {
        if (this.#sendWindow <= 0) this.#blocked.add(res);
        return;
      }
      if (last) {
        // The last DATA frame carried END_STREAM.
        res.localClosed = true;
        this.#maybeClose(res);
        return;
      }
    }
    if (res.pendingBytes > 0) return;
    if (res.endPending && !res.localClosed) {
      const t = res.trailers;
      if (t !== null && !isEmptyObject(t)) {
        const enc = this.#encoder;
        if (!encodeTrailers(enc, t)) {
          this.reset(res, H2Error.INTERNAL_ERROR);
          return;
        }
        this.#out.headerBlock(id, enc.buffer, enc.length, true, this.#peer.maxFrame);
      } else this.#out.frame(FrameType.DATA, Flag.END_STREAM, id, null);
      res.localClosed = true;
      this.#maybeClose(res);
      return;
    }
    if (!this.congested) res.drained();
    else this.#drainWanted = true;
  }

  consumed(req: Http2Request, n: number): void {
    if (this.#phase >= Phase.FAILED) return;
    const inc = req.cancelled || req.remoteClosed ? 0 : req.window.consume(n);
    if (inc > 0) this.#out.frameU32(FrameType.WINDOW_UPDATE, req.id, inc);
    this.#returnConnectionWindow(n);
  }

  #returnConnectionWindow(n: number): void {
    const inc = this.#recvWindow.consume(n);
    if (inc > 0) this.#out.frameU32(FrameType.WINDOW_UPDATE, 0, inc);
  }

  reset(res: Http2Response, code: number): void {
    const id = res.request.id;
    if (this.#streams.get(id) !== res) return;
    this.#out.frameU32(FrameType.RST_STREAM, id, code);
    this.#close(res, CLOSED_WE_RESET);
  }

  // ---- connection lifecycle ---------------------------------------------------------------------------------------

  /**
   * A connection error (RFC 9113 5.4.1): GOAWAY naming the last stream we took, nothing more is read. Streams already
   * taken get a short grace to finish (their clients asked in good faith), then the socket closes.
   */
  #connectionError(code: number): void {
    if (this.#phase >= Phase.FAILED) return;
    this.#reader.stop();
    this.#block.reset();
    this.#newStreams = this.#newStreams.filter((r) => r.request.id <= this.#lastStreamId);
    this.#queue(goawayFrame(this.#lastStreamId, code));
    this.#phase = Phase.FAILED;
    this.socket.off('data', this.#onData);
    // Keep reading (and dropping) so that the client's close is seen.
    this.socket.on('data', noop);
    if (this.#streams.size === 0) return this.#finish();
    this.#graceTimer = setTimeout(this.#destroy, ERROR_GRACE_MS);
    this.#graceTimer.unref();
  }

  /** Graceful: GOAWAY(NO_ERROR) with the last stream id; streams in progress finish, then the connection closes. */
  goaway(): void {
    this.#startClosing(H2Error.NO_ERROR);
  }

  #startClosing(code: number): void {
    if (this.#phase >= Phase.CLOSING) return;
    this.#phase = Phase.CLOSING;
    this.#goawayLastId = this.#lastStreamId;
    this.#queue(goawayFrame(this.#lastStreamId, code));
    if (this.#streams.size === 0) this.#finish();
  }

  /** Nothing left to serve: flush and end the socket. */
  #finish(): void {
    this.#phase = Phase.CLOSED;
    this.#flush();
    this.socket.end();
    // A peer that never closes its side is cut after a grace.
    const t = setTimeout(this.#destroy, ERROR_GRACE_MS);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
  }

  readonly #destroy = (): void => {
    this.socket.destroy();
  };

  /**
   * Called about once a second by the listener: the headers timeout for a header block left unfinished (HTTP/2
   * slowloris) and for a client that never sent its preface, the request idle timeout per stream (zero-window stalls
   * included), and the idle timeout of a connection with no streams.
   */
  sweep(now: number): void {
    if (this.#phase >= Phase.FAILED) return;
    const limits = this.#limits;
    if ((this.#block.stream !== 0 && now - this.#blockStartedAt > limits.headersTimeoutMs) || (this.#phase <= Phase.SETTINGS && now - this.#createdAt > limits.headersTimeoutMs)) {
      this.#queue(goawayFrame(this.#lastStreamId, H2Error.NO_ERROR));
      this.#reader.stop();
      this.#finish();
      return;
    }
    for (const res of this.#streams.values()) {
      if (res.active) {
        res.active = false;
        res.lastActive = now;
      } else if (now - res.lastActive > limits.requestIdleTimeoutMs) this.reset(res, H2Error.CANCEL);
    }
    if (this.#active || this.#streams.size > 0) {
      this.#active = false;
      this.#idleSince = now;
    } else if (now - this.#idleSince > limits.connectionIdleTimeoutMs) this.goaway();
  }

  readonly #onDrain = (): void => {
    this.#drainWanted = false;
    for (const res of this.#streams.values()) if (res.waitingDrain) res.drained();
  };

  readonly #onClose = (): void => {
    this.#phase = Phase.CLOSED;
    this.#reader.stop();
    if (this.#graceTimer !== null) clearTimeout(this.#graceTimer);
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    this.#out.clear();
    this.#newStreams = [];
    for (const res of [...this.#streams.values()]) this.#close(res, CLOSED_PEER_RESET);
  };

  // ---- output -----------------------------------------------------------------------------------------------------

  /** A frame we answer with (ACK, RST_STREAM): refused, with the connection, when the client does not read them. */
  #queueControl(frame: Buffer): void {
    if (this.#controlRoom()) this.#queue(frame);
  }

  /** Whether the client reads what we answer; if not, the connection is closed (ENHANCE_YOUR_CALM). */
  #controlRoom(): boolean {
    if (this.#out.unsent <= MAX_UNREAD_OUTPUT) return true;
    this.#connectionError(H2Error.ENHANCE_YOUR_CALM);
    return false;
  }

  #queue(buf: Buffer): void {
    this.#out.queue(buf);
  }

  #flush(): void {
    this.#out.flush();
  }

  /** The socket took it all without pushing back ('drain' will not come): wake the streams that waited on us. */
  readonly #afterFlush = (): void => {
    this.#ackHeld = false;
    if (this.#drainWanted && !this.congested) this.#onDrain();
  };
}

function noop(): void {}

/** `:status` values as strings, each made once (not a new string per response). */
const STATUS_TEXT: string[] = [];
function statusText(status: number): string {
  return (STATUS_TEXT[status] ??= String(status));
}
