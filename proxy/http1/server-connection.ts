// One downstream HTTP/1.1 connection on a raw socket: parses requests one at a time, frames responses, enforces the limits.
import type { Socket } from 'node:net';
import type { LimitsConfig } from '../../api/config/proxy-config.ts';
import { ERRORS, ProxyError, type ProxyErrorSpec } from '../errors/proxy-error.ts';
import { ERROR_HEADER } from '../http/http-rescue.ts';
import { DownstreamResponseBase } from '../http/downstream-response-base.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import { BODY_ERROR, BodyDecoder } from './body-decoder.ts';
import { ByteAccumulator } from './byte-accumulator.ts';
import { HEAD_TOO_LARGE, findHeadEnd, leadingEmptyLines, parseRequestHead, type RequestHead } from './head-parser.ts';
import { fieldLines, statusLine, writeMessage } from './head-writer.ts';

/** Where a request body goes once someone forwards it. `data` returning false pauses the client until `resume()`. */
export interface BodySink {
  data(chunk: Buffer): boolean;
  /** The body is complete; `trailers`: request trailers (HTTP/2 only; forwarded to an HTTP/2 upstream), else absent or null. */
  end(trailers?: HeaderBag | null): void;
  error(e: Error): void;
}

export interface Http1ServerHooks {
  onRequest(req: Http1Request, res: Http1Response): void;
  /** A WebSocket upgrade: the socket now belongs to the callee; `head` is what the client sent after the request head. */
  onUpgrade(req: Http1Request, socket: Socket, head: Buffer): void;
  /** The codec answered a request itself (400, 431, 408, 405): counted like every answer the proxy originates. */
  onRejected(spec: ProxyErrorSpec): void;
}

const EMPTY = Buffer.alloc(0);

/** The codec's own answers, serialized once from the error catalogue. */
interface Rejection {
  readonly spec: ProxyErrorSpec;
  readonly bytes: string;
}
function errorResponse(spec: ProxyErrorSpec, reason: string): Rejection {
  return { spec, bytes: `HTTP/1.1 ${spec.status} ${reason}\r\ncontent-length: 0\r\nconnection: close\r\n${ERROR_HEADER}: ${spec.cause}\r\n\r\n` };
}
const BAD_REQUEST = errorResponse(ERRORS.badRequest, 'Bad Request');
const TOO_LARGE = errorResponse(ERRORS.headersTooLarge, 'Request Header Fields Too Large');
const TIMEOUT = errorResponse(ERRORS.headersTimeout, 'Request Timeout');
const CONNECT_REFUSED = errorResponse(ERRORS.methodNotAllowed, 'Method Not Allowed');
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/** A parsed request. The fields mirror node:http's IncomingMessage so routing and rescue read both alike. */
export class Http1Request {
  readonly method: string;
  readonly url: string;
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly headers: HeaderBag;
  readonly rawHeaders: string[];
  readonly socket: Socket;
  /** Content-Length > 0 or chunked. */
  readonly hasBody: boolean;
  readonly chunked: boolean;
  /** The parsed Content-Length, or -1 when absent (upstream framing is regenerated from it, never copied). */
  readonly contentLength: number;
  /** The client asked to close after this exchange (Connection: close, or HTTP/1.0 without keep-alive). */
  readonly close: boolean;
  complete: boolean;
  readonly #conn: Http1ServerConnection;
  readonly #decoder: BodyDecoder | null;
  #queued: Buffer[] | null = null;
  #queuedBytes = 0;
  #sink: BodySink | null = null;
  #discard = false;

  constructor(conn: Http1ServerConnection, head: RequestHead, maxTrailerBytes: number) {
    this.#conn = conn;
    this.socket = conn.socket;
    this.method = head.method;
    this.url = head.target;
    this.httpVersionMinor = head.minor;
    this.headers = head.headers;
    this.rawHeaders = head.rawHeaders;
    this.close = head.close;
    this.chunked = head.chunked;
    this.contentLength = head.contentLength;
    this.hasBody = head.chunked || head.contentLength > 0;
    this.complete = !this.hasBody;
    this.#decoder = head.chunked ? new BodyDecoder('chunked', 0, maxTrailerBytes) : this.hasBody ? new BodyDecoder('length', head.contentLength, 0) : null;
  }

  /**
   * Starts forwarding the body into `sink`. Returns the body bytes that already arrived (so the caller can send them
   * with the request head in one write); later bytes go to the sink, and `sink.end()` follows unless `complete` is
   * already true on return.
   */
  attachBody(sink: BodySink): Buffer | null {
    this.#sink = sink;
    const q = this.#queued;
    this.#queued = null;
    if (this.#queuedBytes > 0) {
      this.#queuedBytes = 0;
      this.#conn.resumeBody();
    }
    return q === null ? null : q.length === 1 ? q[0]! : Buffer.concat(q);
  }

  /** The sink drained: read from the client again. */
  resume(): void {
    this.#conn.resumeBody();
  }

  /** Nobody will forward the rest of the body: read and drop it (keeps the connection usable). */
  discardBody(): void {
    this.#discard = true;
    this.#sink = null;
    this.#queued = null;
    if (this.#queuedBytes > 0) {
      this.#queuedBytes = 0;
      this.#conn.resumeBody();
    }
  }

  /** @internal Decodes body bytes from buf[off...]; returns where the body ended, buf.length, or BODY_ERROR. */
  feedBody(buf: Buffer, off: number): number {
    const end = this.#decoder!.feed(buf, off, this.#onChunk);
    if (end === BODY_ERROR) return end;
    if (this.#decoder!.done) {
      this.complete = true;
      this.#sink?.end();
    }
    return end;
  }

  /** @internal The body can't be completed (framing error or the client went away). */
  fail(e: Error): void {
    const sink = this.#sink;
    this.#sink = null;
    this.#discard = true;
    sink?.error(e);
  }

  readonly #onChunk = (chunk: Buffer): void => {
    if (this.#discard || chunk.length === 0) return;
    const sink = this.#sink;
    if (sink !== null) {
      if (!sink.data(chunk)) this.#conn.pauseBody();
      return;
    }
    (this.#queued ??= []).push(chunk);
    this.#queuedBytes += chunk.length;
    // Nobody is reading yet: hold at most what back-pressure allows, then stop reading the client.
    if (this.#queuedBytes > this.#conn.maxBuffered) this.#conn.pauseBody();
  };
}

const FRAMING_NONE = 0;
const FRAMING_LENGTH = 1;
const FRAMING_CHUNKED = 2;
const FRAMING_CLOSE = 3;

/**
 * The response to one Http1Request: node:http ServerResponse's surface as the forwarder and rescue use it. Its only
 * events are 'close' (finished or the connection died) and 'drain', kept in plain arrays: an EventEmitter per request
 * cost more than the rest of the response object.
 */
export class Http1Response extends DownstreamResponseBase {
  /** Whether the connection stays open after this response (false once it will close). */
  shouldKeepAlive: boolean;
  readonly #conn: Http1ServerConnection;
  readonly #req: Http1Request;
  #head: string | null = null; // serialized, not yet written
  #framing = FRAMING_NONE;
  #trailers: string | null = null;
  #started = false;
  #waitingDrain = false;

  constructor(conn: Http1ServerConnection, req: Http1Request) {
    super();
    this.#conn = conn;
    this.#req = req;
    this.shouldKeepAlive = !req.close;
  }

  addTrailers(t: Readonly<Record<string, unknown>>): void {
    try {
      this.#trailers = (this.#trailers ?? '') + fieldLines(t);
    } catch {
      // A trailer that cannot be written safely (cannot happen with parsed input): the response is cut, never forged.
      this.destroy();
    }
  }

  write(chunk: Buffer | string): boolean {
    if (this.writableEnded || this.destroyed) return false;
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (!this.#started && !this.#safeStart(-1)) return false;
    return this.#send(data, false);
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded || this.destroyed) return this;
    const data = chunk === undefined ? null : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (!this.#started && !this.#safeStart(data === null ? 0 : data.length)) return this;
    this.writableEnded = true;
    this.#send(data, true);
    this.#conn.responseFinished(this);
    this.emitClose();
    return this;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.#conn.socket.destroy();
  }

  /** @internal */
  socketClosed(): void {
    if (this.writableEnded) return;
    this.destroyed = true;
    this.emitClose();
  }

  /** @internal */
  drained(): void {
    if (this.#waitingDrain) {
      this.#waitingDrain = false;
      this.emitDrain();
    }
  }

  /** #start, but a head that cannot be serialized safely closes the connection instead of throwing into a socket callback. */
  #safeStart(endLength: number): boolean {
    try {
      this.#start(endLength);
      return true;
    } catch {
      this.destroy();
      return false;
    }
  }

  /** Decides framing and serializes the head; `endLength` is the whole body's length when end() comes first, else -1. */
  #start(endLength: number): void {
    this.#started = true;
    this.headersSent = true;
    const req = this.#req;
    const status = this.statusCode;
    const headers = this.responseHeaders();
    let close = !this.shouldKeepAlive || this.#conn.closing || this.#conn.lastResponse;
    const conn = headers?.connection;
    if (typeof conn === 'string' && conn.toLowerCase() === 'close') close = true;
    let extra = '';
    const noBody = req.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    if (noBody) this.#framing = FRAMING_NONE;
    else if (headers?.['content-length'] !== undefined) this.#framing = FRAMING_LENGTH;
    else if (endLength >= 0) {
      this.#framing = FRAMING_LENGTH;
      extra = `content-length: ${endLength}\r\n`;
    } else if (req.httpVersionMinor === 1) {
      this.#framing = FRAMING_CHUNKED;
      extra = 'transfer-encoding: chunked\r\n';
    } else {
      this.#framing = FRAMING_CLOSE;
      close = true;
    }
    if (close) extra += 'connection: close\r\n';
    else if (req.httpVersionMinor === 0) extra += 'connection: keep-alive\r\n';
    this.shouldKeepAlive = !close;
    this.#head = statusLine(status) + (headers === null ? '' : fieldLines(headers)) + extra + '\r\n';
  }

  #send(data: Buffer | null, last: boolean): boolean {
    const conn = this.#conn;
    // writableEnded: the codec already answered this connection itself (a body framing error) and is closing it.
    if (conn.socket.destroyed || conn.socket.writableEnded) return false;
    conn.active = true;
    let head = this.#head ?? '';
    this.#head = null;
    let body = data;
    let tail: string | null = null;
    if (this.#framing === FRAMING_NONE) body = null;
    else if (this.#framing === FRAMING_CHUNKED) {
      if (body !== null && body.length > 0) {
        head += `${body.length.toString(16)}\r\n`;
        tail = '\r\n';
      } else body = null;
      if (last) tail = `${tail ?? ''}0\r\n${this.#trailers ?? ''}\r\n`;
    }
    if (head.length === 0 && tail === null && (body === null || body.length === 0)) return true;
    const ok = writeMessage(conn.socket, head, body, tail);
    if (!ok && !last) this.#waitingDrain = true;
    return ok;
  }
}

/** Drives one connection. The listener creates it and calls `sweep` periodically for the timeouts. */
export class Http1ServerConnection {
  readonly socket: Socket;
  readonly maxBuffered: number;
  /** Set whenever bytes move (read, or written by us); the sweep turns it into `#lastActivity` (no clock read per event). */
  active = false;
  /** When the sweep last saw bytes move: drives the idle timeouts (to within one sweep interval). */
  #lastActivity = Date.now();
  /** When the current request head started arriving; 0 when no head is in progress. */
  #headStartedAt = 0;
  /** No further request will be read (an error was answered, or the response said close). */
  closing = false;
  /** The response in progress is the last one (closeAfterResponse): it says `connection: close`, then the connection ends. */
  lastResponse = false;
  readonly #hooks: Http1ServerHooks;
  readonly #limits: LimitsConfig;
  readonly #maxPending: number;
  /** Bytes read but not parsed yet: an incomplete head, or requests pipelined behind the one being answered. */
  #buf: Buffer | null = null;
  /** How much of `#buf` was already searched for the end of a head. */
  #scanned = 0;
  readonly #acc: ByteAccumulator;
  #req: Http1Request | null = null;
  #res: Http1Response | null = null;
  #paused = false;
  #parseQueued = false;

  constructor(socket: Socket, limits: LimitsConfig, hooks: Http1ServerHooks) {
    this.socket = socket;
    this.#limits = limits;
    this.#hooks = hooks;
    this.maxBuffered = limits.maxBufferedBytesPerConnection;
    // Requests pipelined behind the one being answered wait here unparsed; past this the connection is closed rather
    // than letting one client queue unbounded work (it can only be answered in order anyway).
    this.#maxPending = limits.maxRequestHeaderBytes + limits.maxBufferedBytesPerConnection;
    this.#acc = new ByteAccumulator(this.#maxPending + 65_536);
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.once('close', this.#onClose);
    socket.on('end', this.#onEnd);
  }

  /** True while a request is being answered or its body read. */
  get busy(): boolean {
    return this.#res !== null || (this.#req !== null && !this.#req.complete);
  }

  /** Applies the headers timeout (slowloris), the request idle timeout and the keep-alive idle timeout. */
  sweep(now: number): void {
    if (this.socket.destroyed) return;
    const limits = this.#limits;
    if (this.active) {
      this.active = false;
      this.#lastActivity = now;
    }
    if (this.#headStartedAt > 0 && this.#res === null && now - this.#headStartedAt > limits.headersTimeoutMs) {
      this.#reject(TIMEOUT);
    } else if (this.busy) {
      if (now - this.#lastActivity > limits.requestIdleTimeoutMs) this.socket.destroy();
    } else if (this.#headStartedAt === 0 && now - this.#lastActivity > limits.connectionIdleTimeoutMs) {
      this.socket.destroy();
    }
  }

  /** Closes the connection if nothing is in progress on it (draining). */
  closeIfIdle(): void {
    if (!this.busy && this.#headStartedAt === 0) this.socket.destroy();
  }

  /**
   * Serves no request after the one in progress: closes now when idle; otherwise the response in progress (or the one to
   * the request whose head is arriving) says `connection: close` and the connection ends once it is sent.
   */
  closeAfterResponse(): void {
    if (!this.busy && this.#headStartedAt === 0) {
      this.socket.destroy();
      return;
    }
    this.lastResponse = true;
  }

  /** @internal */
  pauseBody(): void {
    if (!this.#paused) {
      this.#paused = true;
      this.socket.pause();
    }
  }

  /** @internal */
  resumeBody(): void {
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
  }

  /** @internal Called by the response when its last byte is written. */
  responseFinished(res: Http1Response): void {
    if (this.#res !== res) return;
    this.#res = null;
    this.active = true;
    const req = this.#req!;
    // lastResponse set after this response's head went out (a streamed answer): it still ends the connection now.
    if (!res.shouldKeepAlive || this.lastResponse) {
      this.closing = true;
      this.#buf = null;
      req.discardBody();
      this.socket.end();
      return;
    }
    if (!req.complete) {
      // The answer went out before the whole body came in: read the rest and drop it, then serve the next request.
      req.discardBody();
      return;
    }
    this.#next();
  }

  #next(): void {
    this.#req = null;
    if (this.#buf !== null && !this.#parseQueued) {
      // Not synchronously: we may be deep inside the previous exchange's callbacks.
      this.#parseQueued = true;
      queueMicrotask(this.#parseLater);
    }
  }

  readonly #parseLater = (): void => {
    this.#parseQueued = false;
    this.#parse();
  };

  readonly #onData = (chunk: Buffer): void => {
    this.active = true;
    const req = this.#req;
    if (req !== null && !req.complete) {
      const end = req.feedBody(chunk, 0);
      if (end === BODY_ERROR) return this.#bodyError(req);
      if (end < chunk.length) this.#append(chunk.subarray(end));
      if (req.complete && this.#res === null) this.#next();
      return;
    }
    if (this.closing) return;
    this.#append(chunk);
    if (this.#res !== null) {
      if (this.#buf!.length > this.#maxPending) this.socket.destroy();
      return;
    }
    if (!this.#parseQueued) this.#parse();
  };

  #append(chunk: Buffer): void {
    this.#buf = this.#acc.append(this.#buf, chunk);
  }

  #parse(): void {
    if (this.#res !== null || this.closing || this.socket.destroyed) return;
    let buf = this.#buf;
    if (buf === null) return;
    const limits = this.#limits;
    const skip = leadingEmptyLines(buf, 0);
    if (skip > 0) {
      buf = skip * 2 === buf.length ? null : buf.subarray(skip * 2);
      this.#buf = buf;
      this.#scanned = 0;
      if (buf === null) return;
    }
    if (this.#headStartedAt === 0) this.#headStartedAt = Date.now();
    const end = findHeadEnd(buf, 0, limits.maxRequestHeaderBytes, this.#scanned);
    if (end === -1) {
      this.#scanned = buf.length;
      return;
    }
    this.#scanned = 0;
    if (end < -1) return this.#reject(end === -1 - HEAD_TOO_LARGE ? TOO_LARGE : BAD_REQUEST);
    const head = parseRequestHead(buf, 0, end, limits.maxHeaderCount);
    if (typeof head === 'number') return this.#reject(head === HEAD_TOO_LARGE ? TOO_LARGE : BAD_REQUEST);
    this.#headStartedAt = 0;
    this.#buf = end < buf.length ? buf.subarray(end) : null;
    if (head.method === 'CONNECT') return this.#reject(CONNECT_REFUSED);
    const req = new Http1Request(this, head, limits.maxRequestHeaderBytes);
    if (head.upgrade && isWebSocket(head.headers.upgrade)) {
      // The socket leaves HTTP/1 handling: the tunnel owns it and its timeouts from here on.
      this.#detach();
      const rest = this.#buf ?? EMPTY;
      this.#buf = null;
      this.#hooks.onUpgrade(req, this.socket, rest);
      return;
    }
    const res = new Http1Response(this, req);
    this.#req = req;
    this.#res = res;
    if (!req.complete && this.#buf !== null) {
      // Decode the body bytes already here before anything goes upstream: a framing error is answered 400 up front.
      const b = this.#buf;
      this.#buf = null;
      const bodyEnd = req.feedBody(b, 0);
      if (bodyEnd === BODY_ERROR) {
        this.#req = null;
        this.#res = null;
        return this.#reject(BAD_REQUEST);
      }
      if (bodyEnd < b.length) this.#buf = b.subarray(bodyEnd);
    }
    if (!req.complete && req.httpVersionMinor === 1) {
      const expect = head.headers.expect;
      if (typeof expect === 'string' && expect.toLowerCase() === '100-continue') this.socket.write(CONTINUE, 'latin1');
    }
    this.#hooks.onRequest(req, res);
  }

  /** Answers a request we refuse before any response started, and closes. */
  #reject(answer: Rejection): void {
    this.closing = true;
    this.#buf = null;
    this.#headStartedAt = 0;
    if (this.socket.writable && !this.socket.writableEnded) {
      this.socket.end(answer.bytes, 'latin1');
      this.#hooks.onRejected(answer.spec);
    }
    this.socket.destroySoon();
  }

  #bodyError(req: Http1Request): void {
    this.closing = true;
    this.#buf = null;
    const res = this.#res;
    if (res !== null && !res.headersSent) {
      // Still nothing on the wire: the forwarder's rescue answers 400 through the response (and closes).
      req.fail(new ProxyError(ERRORS.badRequest, 'invalid request body framing'));
      if (!res.headersSent) this.#reject(BAD_REQUEST);
      return;
    }
    // Never write an error into a response already on the wire: just close.
    req.fail(new ProxyError(ERRORS.badRequest, 'invalid request body framing'));
    this.socket.destroy();
  }

  #detach(): void {
    this.socket.off('data', this.#onData);
    this.socket.off('drain', this.#onDrain);
    this.socket.off('close', this.#onClose);
    this.socket.off('end', this.#onEnd);
    this.closing = true;
  }

  readonly #onDrain = (): void => {
    this.active = true;
    this.#res?.drained();
  };

  readonly #onEnd = (): void => {
    // The client finished sending. A response in progress still goes out (half-close); otherwise close.
    if (this.#req !== null && !this.#req.complete) this.#req.fail(new ProxyError(ERRORS.badRequest, 'request body cut short'));
    if (this.#res === null) this.socket.end();
  };

  readonly #onClose = (): void => {
    this.closing = true;
    this.#buf = null;
    // The response first: whoever forwards the body sees a destroyed response and just aborts.
    this.#res?.socketClosed();
    this.#res = null;
    const req = this.#req;
    if (req !== null && !req.complete) req.fail(new Error('client connection closed'));
  };
}

function isWebSocket(v: string | string[] | undefined): boolean {
  return typeof v === 'string' && v.toLowerCase() === 'websocket';
}
