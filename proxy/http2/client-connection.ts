// One upstream HTTP/2 connection on a raw socket, the client role of our codec (RFC 9113): streams bounded by the peer's
// SETTINGS, flow control both ways, GOAWAY, RST_STREAM, PING keepalive, idle close.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import { encodeFields, encodeTrailers, isEmptyObject } from './field-encoding.ts';
import { RecvWindow, grow } from './flow-window.ts';
import { FrameOutput } from './frame-output.ts';
import { Flag, FrameReader, FrameType, type FrameHandler } from './frame-reader.ts';
import { goawayFrame, pingFrame, settingsFrame } from './frame-writer.ts';
import { DEFAULT_WINDOW, H2Error, MAX_WINDOW, PREFACE, Setting } from './h2-codes.ts';
import { HeaderBlock } from './header-block.ts';
import { FieldsVerdict, HeaderFields } from './header-fields.ts';
import { HpackDecoder, HpackError } from './hpack-decoder.ts';
import { HpackEncoder } from './hpack-encoder.ts';
import { PeerSettings } from './peer-settings.ts';
import { sendData, type SendingStream } from './send-data.ts';

export interface Http2ClientOptions {
  /** Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE) and for the whole connection. */
  readonly streamWindowBytes: number;
  readonly connectionWindowBytes: number;
  /** Limits of one response header block (bytes as HPACK counts them, and fields). */
  readonly maxHeaderBytes: number;
  readonly maxHeaderCount: number;
  /** A connection without streams this long is closed with GOAWAY. */
  readonly idleTimeoutMs: number;
  /** Nothing read for this long: PING; still nothing one more interval later: the connection is dead and closed. */
  readonly keepaliveMs: number;
  /** Unsent bytes on the socket before request bodies are pushed back. */
  readonly maxBufferedBytes: number;
  /** The server's first SETTINGS must arrive within this long of the connection's start (connect and TLS included). */
  readonly handshakeTimeoutMs: number;
}

/** The callbacks of one stream. After onEnd or onError nothing more is called. */
export interface ClientStreamHandler {
  /**
   * The final (non-1xx) response head; `headers` are its end-to-end fields (no pseudo-headers, nothing hop-by-hop), a
   * fresh object the handler may keep and change. `endStream`: there is no body (trailers-only, 204, HEAD).
   */
  onResponse(status: number, headers: HeaderBag, endStream: boolean): void;
  /** Body bytes (a view of the received buffer); false stops returning window to the server until `stream.resume()`. */
  onData(chunk: Buffer): boolean;
  /** `trailers`: end-to-end fields, as the head's. */
  onEnd(trailers: HeaderBag | null): void;
  /** `retryable`: the server has not processed the request (REFUSED_STREAM, or above a GOAWAY's last stream id). */
  onError(e: Error, retryable: boolean): void;
  /** The request body can take more bytes after `write` returned false. */
  onDrain(): void;
}

/** What the pool hears from its connections. */
export interface ClientConnectionOwner {
  /** Streams can be opened on `conn` (its server's first SETTINGS came, one stream closed, or the limit was raised). */
  available(conn: Http2ClientConnection): void;
  /** `conn` takes no new streams any more (GOAWAY either way, an error, closed). */
  retired(conn: Http2ClientConnection): void;
}

/** Control frames (PING ACKs, SETTINGS ACKs) queued on a socket the server does not read. */
const MAX_UNREAD_OUTPUT = 1 << 20;
/** How long a closing connection waits for the server to close its side. */
const CLOSE_GRACE_MS = 1_000;
/** The largest stream id; past it the connection takes no new streams. */
const MAX_STREAM_ID = 0x7fffffff;
/**
 * Frames that make us work without moving a response along (PING, SETTINGS after the first, PRIORITY, RST_STREAM or
 * WINDOW_UPDATE for a stream already closed, empty DATA or CONTINUATION, unknown types): a burst, then a rate, as the
 * server side allows its clients (a server flooding them gets GOAWAY(ENHANCE_YOUR_CALM) and loses the connection).
 */
const CALM_BURST = 1_000;
const CALM_REFILL_PER_SEC = 200;

/** One request/response exchange on the connection (the stack's exchange drives it through write/end/resume/cancel). */
export class Http2ClientStream implements SendingStream {
  readonly id: number;
  /** @internal */ readonly handler: ClientStreamHandler;
  /** @internal */ sendWindow: number;
  /** @internal */ pending: Buffer[] = [];
  /** @internal */ pendingBytes = 0;
  /** @internal end() was called: END_STREAM goes out once pending is sent. */ endPending = false;
  /** @internal Request trailers to send as the last HEADERS frame. */ trailers: HeaderBag | null = null;
  /** @internal We sent END_STREAM. */ localClosed: boolean;
  /** @internal The server sent END_STREAM. */ remoteClosed = false;
  /** @internal The final response head arrived. */ gotHead = false;
  /** @internal Our receive window for the response body. */ readonly window: RecvWindow;
  /** @internal Declared response content-length, or -1. */ contentLength = -1;
  /** @internal Response body bytes received. */ received = 0;
  /** @internal Bytes delivered whose window is not returned yet (the handler pushed back). */ held = 0;
  /** @internal */ paused = false;
  /** @internal A HEAD request: the response's content-length describes a body that never comes. */ readonly head: boolean;
  /** @internal A write was refused: onDrain is owed. */ waitingDrain = false;
  /** @internal No longer in the connection's table. */ closed = false;
  readonly #conn: Http2ClientConnection;

  constructor(conn: Http2ClientConnection, id: number, handler: ClientStreamHandler, sendWindow: number, recvWindow: number, endStream: boolean, head: boolean) {
    this.#conn = conn;
    this.head = head;
    this.id = id;
    this.handler = handler;
    this.sendWindow = sendWindow;
    this.window = new RecvWindow(recvWindow);
    this.localClosed = endStream;
  }

  /** More request body. False: wait for `onDrain` (the stream's window or the socket is full). */
  write(chunk: Buffer): boolean {
    if (this.closed || this.endPending || this.localClosed) return true;
    if (chunk.length > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      this.#conn.flush(this);
    }
    if (this.pendingBytes === 0 && !this.#conn.congested) return true;
    this.waitingDrain = true;
    // Waiting for window: the WINDOW_UPDATE's flush wakes it. Waiting for the output: its write (or the socket's 'drain').
    if (this.pendingBytes === 0) this.#conn.drainLater();
    return false;
  }

  /** The request body is complete; `trailers` (gRPC client metadata at the end, rare) go as a last HEADERS frame. */
  end(trailers: HeaderBag | null = null): void {
    if (this.closed || this.endPending || this.localClosed) return;
    this.endPending = true;
    this.trailers = trailers !== null && !isEmptyObject(trailers) ? trailers : null;
    this.#conn.flush(this);
  }

  /** The response consumer drained: the held bytes' window goes back to the server. */
  resume(): void {
    this.paused = false;
    const n = this.held;
    if (n === 0) return;
    this.held = 0;
    this.#conn.consumed(this, n);
  }

  /** Abandons the exchange (client gone, timeout): RST_STREAM(CANCEL), no more callbacks. */
  cancel(): void {
    this.#conn.cancel(this);
  }
}

const Phase = {
  OPEN: 0,
  /** GOAWAY received or sent: no new streams; the connection closes when the last one is done. */
  CLOSING: 1,
  /** The socket is ending or gone. */
  CLOSED: 2,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

export class Http2ClientConnection implements FrameHandler {
  readonly socket: Socket;
  readonly #opts: Http2ClientOptions;
  readonly #owner: ClientConnectionOwner;
  readonly #reader = new FrameReader(this);
  readonly #decoder = new HpackDecoder();
  readonly #encoder = new HpackEncoder();
  /** `https` over TLS (mesh mTLS, TLS upstreams), `http` in clear text (RFC 9113 8.3.1: the scheme of the target URI). */
  readonly #scheme: 'http' | 'https';
  // Until the server says otherwise, streams are unlimited (RFC 9113 6.5.2); no stream is opened before it could say.
  readonly #peer = new PeerSettings(this.#encoder, Infinity);
  readonly #fields: HeaderFields;
  readonly #out: FrameOutput;
  readonly #streams = new Map<number, Http2ClientStream>();
  /** Streams with data waiting for the connection window. */
  readonly #blocked = new Set<Http2ClientStream>();
  readonly #recvWindow: RecvWindow;
  #sendWindow = DEFAULT_WINDOW;
  #phase: Phase = Phase.OPEN;
  /** The server's first SETTINGS arrived: how many streams it takes is known. */
  #ready = false;
  #nextId = 1;
  /** A response header block in progress. */
  readonly #block: HeaderBlock;
  #socketError: Error | null = null;
  /** Keepalive: something was read since the last tick; a PING of ours is unanswered. */
  #readSinceTick = true;
  #pingOutstanding = false;
  #idleSince: number;
  readonly #timer: NodeJS.Timeout;
  #handshakeTimer: NodeJS.Timeout | null;
  #drainWanted = false;
  /** Flood budget (frames that do no work for a stream), refilled per read. */
  #calm = CALM_BURST;
  #calmAt = performance.now();

  /** `reads`: the socket was opened with it as `onread` (its reads come through it, not as 'data' events). */
  constructor(socket: Socket, opts: Http2ClientOptions, owner: ClientConnectionOwner, reads: { target: ((chunk: Buffer) => void) | null } | null = null) {
    this.socket = socket;
    this.#scheme = (socket as TLSSocket).encrypted === true ? 'https' : 'http';
    this.#opts = opts;
    this.#owner = owner;
    this.#fields = new HeaderFields(opts.maxHeaderBytes, opts.maxHeaderCount);
    this.#block = new HeaderBlock(2 * opts.maxHeaderBytes + 16_384);
    this.#recvWindow = new RecvWindow(opts.connectionWindowBytes, DEFAULT_WINDOW);
    this.#out = new FrameOutput(socket, this.#afterFlush);
    this.#idleSince = Date.now();
    if (reads !== null) reads.target = this.#onData;
    else socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('error', this.#onError);
    socket.once('close', this.#onClose);
    if ((socket as Partial<TLSSocket>).encrypted === true) {
      // HTTP/2 over TLS only once the server agreed to it by ALPN (RFC 9113 3.2): not a byte of it to a server that did not.
      this.#out.hold();
      socket.once('secureConnect', this.#onSecureConnect);
    }
    // Preface, our SETTINGS and the connection window in the first write (sent once the socket connects).
    this.#out.queue(PREFACE);
    this.#out.queue(
      settingsFrame([
        [Setting.ENABLE_PUSH, 0],
        [Setting.INITIAL_WINDOW_SIZE, Math.min(opts.streamWindowBytes, MAX_WINDOW)],
        [Setting.MAX_HEADER_LIST_SIZE, opts.maxHeaderBytes],
      ]),
    );
    const extra = this.#recvWindow.size - DEFAULT_WINDOW;
    if (extra > 0) {
      this.#out.frameU32(FrameType.WINDOW_UPDATE, 0, extra);
      this.#recvWindow.available += extra;
    }
    this.#timer = setInterval(this.#tick, Math.max(1, Math.min(opts.keepaliveMs, opts.idleTimeoutMs)));
    this.#timer.unref();
    this.#handshakeTimer = setTimeout(this.#handshakeTimeout, opts.handshakeTimeoutMs);
    this.#handshakeTimer.unref();
    socket.unref();
  }

  /**
   * Whether the server's first SETTINGS arrived. No stream is opened before: its SETTINGS_MAX_CONCURRENT_STREAMS may be
   * below what we would guess, and streams past it would be refused (the pool waits for it instead, one round trip
   * once per connection).
   */
  get ready(): boolean {
    return this.#ready;
  }

  /** Why the connection failed (socket error, protocol error), or null. */
  get failure(): Error | null {
    return this.#socketError;
  }

  /** Streams that may still be opened now (0 before the server's SETTINGS, and once closing). */
  get available(): number {
    if (this.#phase !== Phase.OPEN || !this.#ready) return 0;
    return Math.max(0, this.#peer.maxConcurrentStreams - this.#streams.size);
  }

  get activeStreams(): number {
    return this.#streams.size;
  }

  get congested(): boolean {
    return this.#out.unsent > this.#opts.maxBufferedBytes;
  }

  /**
   * Opens a stream with the request head (and END_STREAM when there is no body). Returns null when the connection takes
   * no new streams or a field cannot be sent (CR, LF or NUL: nothing is encoded then).
   */
  request(method: string, authority: string, path: string, headers: HeaderBag, te: boolean, endStream: boolean, handler: ClientStreamHandler): Http2ClientStream | null {
    if (this.available === 0) return null;
    const enc = this.#encoder;
    enc.begin();
    if (!(enc.field(':method', method) && enc.field(':scheme', this.#scheme) && enc.field(':authority', authority) && enc.field(':path', path) && encodeFields(enc, headers))) {
      // Nothing of it is sent, and no stream id is spent.
      enc.abandon();
      return null;
    }
    if (te) enc.field('te', 'trailers');
    const id = this.#nextId;
    this.#nextId += 2;
    this.#out.headerBlock(id, enc.buffer, enc.length, endStream, this.#peer.maxFrame);
    const s = new Http2ClientStream(this, id, handler, this.#peer.initialWindow, this.#opts.streamWindowBytes, endStream, method === 'HEAD');
    if (this.#streams.size === 0) this.socket.ref();
    this.#streams.set(id, s);
    // Ids run out after about a billion streams: this connection then finishes what it has and another takes over.
    if (this.#nextId > MAX_STREAM_ID) this.#retire();
    return s;
  }

  /** Graceful close: no new streams; the connection closes once its streams are done. */
  close(): void {
    if (this.#phase !== Phase.OPEN) return;
    this.#out.queue(goawayFrame(0, H2Error.NO_ERROR));
    this.#retire();
    if (this.#streams.size === 0) this.#finish();
  }

  /** Closes at once: every stream fails. */
  destroy(): void {
    this.socket.destroy();
  }

  // ---- input ------------------------------------------------------------------------------------------------------

  readonly #onSecureConnect = (): void => {
    const alpn = (this.socket as TLSSocket).alpnProtocol;
    if (alpn === 'h2') return this.#out.release();
    this.#socketError ??= new ProxyError(ERRORS.upstreamProtocol, `upstream did not agree to HTTP/2 over TLS (ALPN: ${alpn === false || alpn == null ? 'none' : alpn})`);
    this.#out.clear();
    this.socket.destroy();
  };

  readonly #onData = (chunk: Buffer): void => {
    this.#readSinceTick = true;
    const now = performance.now();
    this.#calm = Math.min(CALM_BURST, this.#calm + ((now - this.#calmAt) * CALM_REFILL_PER_SEC) / 1000);
    this.#calmAt = now;
    this.#reader.push(chunk);
  };

  /** Takes one unit of the flood budget; past it, GOAWAY(ENHANCE_YOUR_CALM) and the connection fails. */
  #spend(what: string): boolean {
    if (--this.#calm >= 0) return true;
    this.#connectionError(H2Error.ENHANCE_YOUR_CALM, `flood of ${what} frames`);
    return false;
  }

  onFrameTooLarge(): void {
    this.#connectionError(H2Error.FRAME_SIZE_ERROR, 'frame larger than our maximum');
  }

  onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.#block.stream !== 0 && type !== FrameType.CONTINUATION) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'frame inside a header block');
    // A HEADERS payload is decoded where it is; the others are read as a view (DATA's is passed on).
    if (type === FrameType.HEADERS) return this.#onHeaders(flags, id, buf, start, end);
    const payload = buf.subarray(start, end);
    switch (type) {
      case FrameType.DATA:
        return this.#onDataFrame(flags, id, payload);
      case FrameType.PRIORITY:
        if (id === 0) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (payload.length !== 5) return this.#connectionError(H2Error.FRAME_SIZE_ERROR, 'PRIORITY length');
        this.#spend('PRIORITY');
        return;
      case FrameType.RST_STREAM:
        return this.#onRstStream(id, payload);
      case FrameType.SETTINGS:
        return this.#onSettings(flags, id, payload);
      case FrameType.PUSH_PROMISE:
        // We disabled push (RFC 9113 8.4).
        return this.#connectionError(H2Error.PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
      case FrameType.PING:
        if (id !== 0) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'PING on a stream');
        if (payload.length !== 8) return this.#connectionError(H2Error.FRAME_SIZE_ERROR, 'PING length');
        if ((flags & Flag.ACK) !== 0) this.#pingOutstanding = false;
        else if (this.#spend('PING')) this.#queueControl(pingFrame(payload, true));
        return;
      case FrameType.GOAWAY:
        return this.#onGoaway(id, payload);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(id, payload);
      case FrameType.CONTINUATION:
        return this.#onContinuation(flags, id, payload);
      default:
        // Unknown frame types are ignored (RFC 9113 5.5), but not for free.
        this.#spend('unknown');
        return;
    }
  }

  /** An id we never opened (or a server-initiated even id): any frame on it is a connection error. */
  #idle(id: number): boolean {
    return (id & 1) === 0 || id >= this.#nextId;
  }

  #onDataFrame(flags: number, id: number, payload: Buffer): void {
    if (id === 0 || this.#idle(id)) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'DATA on an idle stream');
    const flowLength = payload.length;
    let data = payload;
    if ((flags & Flag.PADDED) !== 0) {
      if (payload.length === 0 || payload[0]! >= payload.length) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'bad padding');
      data = payload.subarray(1, payload.length - payload[0]!);
    }
    // Every DATA frame counts against the connection window, whatever becomes of its stream.
    if (!this.#recvWindow.receive(flowLength)) return this.#connectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window overrun');
    if (flowLength === 0 && (flags & Flag.END_STREAM) === 0 && !this.#spend('empty DATA')) return;
    const s = this.#streams.get(id);
    if (s === undefined) {
      // A stream we closed (cancelled, or reset): the server may not know yet.
      this.#returnConnectionWindow(flowLength);
      return;
    }
    if (!s.gotHead) return this.#streamError(s, H2Error.PROTOCOL_ERROR, 'DATA before the response head');
    if (s.remoteClosed) return this.#connectionError(H2Error.STREAM_CLOSED, 'DATA after END_STREAM');
    if (!s.window.receive(flowLength)) return this.#streamError(s, H2Error.FLOW_CONTROL_ERROR, 'stream window overrun');
    if (flowLength > data.length) this.consumed(s, flowLength - data.length);
    if (data.length > 0) {
      s.received += data.length;
      if (s.contentLength >= 0 && s.received > s.contentLength) return this.#streamError(s, H2Error.PROTOCOL_ERROR, 'more DATA than content-length');
      if (s.handler.onData(data) && !s.paused) this.consumed(s, data.length);
      else {
        // A consumer that pushed back still takes what the window let through; the window stays shut until resume().
        s.paused = true;
        s.held += data.length;
      }
      if (s.closed) return; // the handler cancelled
    }
    if ((flags & Flag.END_STREAM) !== 0) this.#remoteEnd(s, null);
  }

  #onHeaders(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0 || this.#idle(id)) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'HEADERS on an idle stream');
    const error = this.#block.begin(flags, id, buf, start, end);
    if (error !== 0) return this.#connectionError(error, 'bad HEADERS frame');
    if (this.#block.complete) this.#headerBlock();
  }

  #onContinuation(flags: number, id: number, payload: Buffer): void {
    const error = this.#block.add(flags, id, payload);
    if (error !== 0) return this.#connectionError(error, error === H2Error.ENHANCE_YOUR_CALM ? 'response header block too large' : 'CONTINUATION out of place');
    if (payload.length === 0 && !this.#spend('empty CONTINUATION')) return;
    if (this.#block.complete) this.#headerBlock();
  }

  /** A complete header block: a response head (interim or final), or trailers. */
  #headerBlock(): void {
    const id = this.#block.stream;
    const endStream = this.#block.endStream;
    const s = this.#streams.get(id);
    const fields = this.#fields;
    fields.begin(s !== undefined && s.gotHead, true);
    try {
      // Decoded even for a stream we closed: the HPACK table must stay in step.
      this.#block.decode(this.#decoder, fields.sink);
    } catch (e) {
      if (e instanceof HpackError) return this.#connectionError(H2Error.COMPRESSION_ERROR, 'bad HPACK block');
      throw e;
    }
    if (s === undefined) return;
    if (s.remoteClosed) return this.#connectionError(H2Error.STREAM_CLOSED, 'HEADERS after END_STREAM');
    if (s.gotHead) {
      // Trailers end the stream and carry no pseudo-headers (RFC 9113 8.1).
      if (!endStream || fields.finishTrailers() !== FieldsVerdict.OK) return this.#streamError(s, H2Error.PROTOCOL_ERROR, 'malformed trailers');
      return this.#remoteEnd(s, fields.headers);
    }
    const status = fields.finishResponse();
    if (status < 0) {
      const tooLarge = fields.verdict === FieldsVerdict.TOO_LARGE;
      return this.#streamError(s, tooLarge ? H2Error.CANCEL : H2Error.PROTOCOL_ERROR, tooLarge ? 'response header block too large' : 'malformed response head');
    }
    if (status < 200) {
      // Interim (100, 103): dropped; 101 does not exist in HTTP/2, and an interim head cannot end the stream.
      if (status === 101 || endStream) return this.#streamError(s, H2Error.PROTOCOL_ERROR, 'malformed interim response');
      return;
    }
    s.gotHead = true;
    // A HEAD answer, 204 and 304 have no body whatever their content-length says (RFC 9110 8.6).
    s.contentLength = s.head || status === 204 || status === 304 ? -1 : fields.contentLength;
    s.handler.onResponse(status, fields.headers, endStream);
    if (endStream && !s.closed) this.#remoteEnd(s, null);
  }

  #remoteEnd(s: Http2ClientStream, trailers: HeaderBag | null): void {
    if (s.contentLength >= 0 && s.received !== s.contentLength) return this.#streamError(s, H2Error.PROTOCOL_ERROR, 'DATA shorter than content-length');
    s.remoteClosed = true;
    if (!s.localClosed) {
      // The answer is complete before our request body (RFC 9113 8.1): stop sending it.
      this.#out.frameU32(FrameType.RST_STREAM, s.id, H2Error.NO_ERROR);
    }
    this.#close(s);
    s.handler.onEnd(trailers);
  }

  #onRstStream(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.#connectionError(H2Error.FRAME_SIZE_ERROR, 'RST_STREAM length');
    if (id === 0 || this.#idle(id)) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on an idle stream');
    const s = this.#streams.get(id);
    if (s === undefined) {
      this.#spend('RST_STREAM');
      return;
    }
    const code = payload.readUInt32BE(0);
    this.#close(s);
    // REFUSED_STREAM: the server did no work on it (RFC 9113 8.7), so it may be sent again.
    const e = new ProxyError(ERRORS.upstreamReset, `upstream reset the stream (HTTP/2 error ${code})`);
    s.handler.onError(e, code === H2Error.REFUSED_STREAM);
  }

  #onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if ((flags & Flag.ACK) !== 0) {
      if (payload.length !== 0) this.#connectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      else this.#spend('SETTINGS');
      return;
    }
    if (payload.length % 6 !== 0) return this.#connectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS length');
    if (this.#ready && !this.#spend('SETTINGS')) return;
    const before = this.available;
    const error = this.#peer.apply(payload, 'client');
    if (error !== 0) return this.#connectionError(error, 'invalid SETTINGS');
    this.#queueControl(settingsFrame([], true));
    const delta = this.#peer.windowDelta;
    if (delta !== 0) {
      // A new initial window re-bases every open stream's send window (RFC 9113 6.9.2).
      for (const s of this.#streams.values()) {
        const w = grow(s.sendWindow, delta);
        if (w === null) return this.#connectionError(H2Error.FLOW_CONTROL_ERROR, 'window past 2^31-1');
        s.sendWindow = w;
      }
      if (delta > 0) for (const s of this.#streams.values()) this.flush(s);
    }
    if (!this.#ready) {
      this.#ready = true;
      this.#clearHandshakeTimer();
      this.#owner.available(this);
    } else if (this.available > before) this.#owner.available(this);
  }

  #clearHandshakeTimer(): void {
    if (this.#handshakeTimer !== null) {
      clearTimeout(this.#handshakeTimer);
      this.#handshakeTimer = null;
    }
  }

  /** Not an HTTP/2 server, or not answering: the connection fails (and the requests waiting for it). */
  readonly #handshakeTimeout = (): void => {
    this.#handshakeTimer = null;
    if (this.#ready || this.#phase === Phase.CLOSED) return;
    this.#socketError ??= new ProxyError(ERRORS.upstreamProtocol, 'no HTTP/2 SETTINGS from the upstream in time');
    this.socket.destroy();
  };

  #onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.#connectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      const w = grow(this.#sendWindow, inc);
      if (w === null) return this.#connectionError(H2Error.FLOW_CONTROL_ERROR, 'window past 2^31-1');
      this.#sendWindow = w;
      if (this.#blocked.size > 0) {
        const blocked = [...this.#blocked];
        this.#blocked.clear();
        for (const s of blocked) this.flush(s);
      }
      return;
    }
    if (this.#idle(id)) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE on an idle stream');
    const s = this.#streams.get(id);
    if (s === undefined) {
      this.#spend('WINDOW_UPDATE');
      return;
    }
    if (inc === 0) return this.#streamError(s, H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
    const w = grow(s.sendWindow, inc);
    if (w === null) return this.#streamError(s, H2Error.FLOW_CONTROL_ERROR, 'window past 2^31-1');
    s.sendWindow = w;
    this.flush(s);
  }

  /**
   * GOAWAY (RFC 9113 6.8): no new streams. Streams above its last stream id were never processed and fail as retryable;
   * those at or below it finish; the connection closes after the last one.
   */
  #onGoaway(id: number, payload: Buffer): void {
    if (id !== 0) return this.#connectionError(H2Error.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (payload.length < 8) return this.#connectionError(H2Error.FRAME_SIZE_ERROR, 'GOAWAY length');
    const lastId = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    this.#retire();
    for (const s of [...this.#streams.values()]) {
      if (s.id <= lastId) continue;
      this.#close(s);
      s.handler.onError(new ProxyError(ERRORS.upstreamReset, `upstream going away (HTTP/2 error ${code}) before the stream`), true);
    }
    if (this.#streams.size === 0) this.#finish();
  }

  // ---- streams ----------------------------------------------------------------------------------------------------

  /** A stream error of ours (RFC 9113 5.4.2): RST_STREAM, the stream closed, its exchange failed. */
  #streamError(s: Http2ClientStream, code: number, why: string): void {
    this.#out.frameU32(FrameType.RST_STREAM, s.id, code);
    this.#close(s);
    s.handler.onError(new ProxyError(ERRORS.upstreamProtocol, why), false);
  }

  /** @internal The exchange abandons the stream. */
  cancel(s: Http2ClientStream): void {
    if (s.closed) return;
    if (!s.remoteClosed || !s.localClosed) this.#out.frameU32(FrameType.RST_STREAM, s.id, H2Error.CANCEL);
    this.#close(s);
  }

  #close(s: Http2ClientStream): void {
    if (s.closed) return;
    s.closed = true;
    this.#streams.delete(s.id);
    this.#blocked.delete(s);
    // Usually empty by now; setting an array's length is a call into the runtime.
    if (s.pending.length !== 0) s.pending.length = 0;
    s.pendingBytes = 0;
    // Bytes received but never consumed go back to the connection window.
    if (s.held > 0) {
      this.#returnConnectionWindow(s.held);
      s.held = 0;
    }
    if (this.#streams.size === 0) {
      this.#idleSince = Date.now();
      this.socket.unref();
      if (this.#phase === Phase.CLOSING) return this.#finish();
    }
    if (this.#phase === Phase.OPEN) this.#owner.available(this);
  }

  /** @internal Sends what the windows allow of the stream's request body, then its end (trailers or an empty DATA). */
  flush(s: Http2ClientStream): void {
    if (s.closed || s.localClosed) return;
    if (s.pendingBytes > 0) {
      const last = s.endPending && s.trailers === null;
      this.#sendWindow -= sendData(s, this.#sendWindow, this.#peer.maxFrame, last, this.#out);
      if (s.pendingBytes > 0) {
        if (this.#sendWindow <= 0) this.#blocked.add(s);
        return;
      }
      if (last) {
        s.localClosed = true;
        return;
      }
    }
    if (s.endPending) {
      const t = s.trailers;
      const enc = this.#encoder;
      if (t !== null && encodeTrailers(enc, t)) this.#out.headerBlock(s.id, enc.buffer, enc.length, true, this.#peer.maxFrame);
      // No trailers, or trailers that cannot be sent (CR, LF or NUL): the body just ends.
      else this.#out.frame(FrameType.DATA, Flag.END_STREAM, s.id, null);
      s.localClosed = true;
      return;
    }
    if (s.waitingDrain) {
      if (!this.congested) this.#drained(s);
      else this.#drainWanted = true;
    }
  }

  /** @internal A stream waits for the connection's output to be written. */
  drainLater(): void {
    this.#drainWanted = true;
  }

  #drained(s: Http2ClientStream): void {
    s.waitingDrain = false;
    s.handler.onDrain();
  }

  /** @internal `n` response bytes were consumed: the windows may be refilled. */
  consumed(s: Http2ClientStream, n: number): void {
    if (this.#phase === Phase.CLOSED) return;
    const inc = s.closed || s.remoteClosed ? 0 : s.window.consume(n);
    if (inc > 0) this.#out.frameU32(FrameType.WINDOW_UPDATE, s.id, inc);
    this.#returnConnectionWindow(n);
  }

  #returnConnectionWindow(n: number): void {
    const inc = this.#recvWindow.consume(n);
    if (inc > 0) this.#out.frameU32(FrameType.WINDOW_UPDATE, 0, inc);
  }

  // ---- connection lifecycle ---------------------------------------------------------------------------------------

  /** No new streams from now on; the pool looks elsewhere. */
  #retire(): void {
    if (this.#phase !== Phase.OPEN) return;
    this.#phase = Phase.CLOSING;
    this.#owner.retired(this);
  }

  /** A connection error of ours (RFC 9113 5.4.1): GOAWAY, every stream fails, the socket closes. */
  #connectionError(code: number, why: string): void {
    if (this.#phase === Phase.CLOSED) return;
    this.#reader.stop();
    this.#block.reset();
    this.#out.queue(goawayFrame(0, code, why));
    this.#socketError = new ProxyError(ERRORS.upstreamProtocol, `upstream HTTP/2 connection error: ${why}`);
    this.#retire();
    this.#finish();
  }

  /** Nothing left to do: flush and end the socket (streams still open fail when it closes). */
  #finish(): void {
    if (this.#phase === Phase.CLOSED) return;
    this.#phase = Phase.CLOSED;
    clearInterval(this.#timer);
    this.#out.flush();
    this.socket.end();
    // A peer that never closes its side is cut after a grace.
    setTimeout(destroySocket, CLOSE_GRACE_MS, this.socket).unref();
  }

  /** Keepalive and idle close, at most once per `keepaliveMs` (one timer per connection, none per request). */
  readonly #tick = (): void => {
    if (this.#phase === Phase.CLOSED) return;
    if (this.#pingOutstanding && !this.#readSinceTick) {
      // Nothing at all came back for a whole interval after our PING: the peer or the path is gone.
      this.#socketError = new ProxyError(ERRORS.upstreamReset, 'upstream HTTP/2 connection unresponsive (PING unanswered)');
      this.socket.destroy();
      return;
    }
    const now = Date.now();
    if (this.#streams.size === 0 && now - this.#idleSince >= this.#opts.idleTimeoutMs) {
      this.close();
      return;
    }
    if (!this.#readSinceTick && !this.#pingOutstanding) {
      this.#pingOutstanding = true;
      const opaque = Buffer.allocUnsafe(8);
      opaque.writeDoubleBE(now);
      this.#out.queue(pingFrame(opaque, false));
    }
    this.#readSinceTick = false;
  };

  readonly #onDrain = (): void => {
    this.#drainWanted = false;
    for (const s of this.#streams.values()) if (s.waitingDrain && s.pendingBytes === 0) this.#drained(s);
  };

  /** The socket took it all without pushing back ('drain' will not come): wake the streams that waited on us. */
  readonly #afterFlush = (): void => {
    if (this.#drainWanted && !this.congested) this.#onDrain();
  };

  readonly #onError = (e: Error): void => {
    this.#socketError ??= e;
  };

  readonly #onClose = (): void => {
    const wasOpen = this.#phase === Phase.OPEN;
    this.#phase = Phase.CLOSED;
    clearInterval(this.#timer);
    this.#clearHandshakeTimer();
    this.#reader.stop();
    this.#out.clear();
    if (wasOpen) this.#owner.retired(this);
    const e = this.#socketError ?? new ProxyError(ERRORS.upstreamReset, 'upstream HTTP/2 connection closed');
    for (const s of [...this.#streams.values()]) {
      this.#close(s);
      s.handler.onError(e, false);
    }
  };

  // ---- output -----------------------------------------------------------------------------------------------------

  /** A frame we answer with (ACKs): a server that never reads them loses the connection. */
  #queueControl(frame: Buffer): void {
    if (this.#out.unsent > MAX_UNREAD_OUTPUT) return this.#connectionError(H2Error.ENHANCE_YOUR_CALM, 'peer does not read');
    this.#out.queue(frame);
  }
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}
