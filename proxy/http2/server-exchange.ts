// One request on our own HTTP/2 server connection: the request/response pair serve and the rescue use, plus the stream's state.
import type { Socket } from 'node:net';
import { DownstreamResponseBase } from '../http/downstream-response-base.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import type { BodySink } from '../http1/server-connection.ts';
import type { RecvWindow } from './flow-window.ts';

/** What an exchange needs from its connection (implemented by Http2ServerConnection). */
export interface StreamWriter {
  /** Sends the response head; false if it could not be encoded (the stream was reset instead). */
  writeHead(res: Http2Response, status: number, headers: Readonly<Record<string, unknown>> | null, endStream: boolean): boolean;
  /** Sends what the windows allow of the response's pending data (and the end of the stream once it is all out). */
  flush(res: Http2Response): void;
  /** Bytes received on the stream were consumed: the windows may be refilled. */
  consumed(req: Http2Request, n: number): void;
  /** Resets the stream (RST_STREAM) and closes it. */
  reset(res: Http2Response, code: number): void;
  /** Whether the connection holds more unsent bytes than back-pressure allows. */
  readonly congested: boolean;
}

/** The request as serve, routing and the rescue read it (the fields of Http1Request they use), plus body forwarding. */
export class Http2Request {
  readonly method: string;
  readonly url: string | undefined;
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  /** The decoded header block, pseudo-headers included. */
  readonly headers: HeaderBag;
  readonly socket: Socket;
  /** The HEADERS frame did not end the stream. */
  readonly hasBody: boolean;
  complete: boolean;
  /** @internal */ readonly id: number;
  /** @internal The declared content-length, or -1. */ readonly contentLength: number;
  /** @internal Body bytes received so far. */ received = 0;
  /** @internal Our receive window for this stream. */ readonly window: RecvWindow;
  /** @internal The client sent END_STREAM (half-closed remote). */ remoteClosed: boolean;
  /** @internal The stream was reset (by either side) or its connection lost. */ cancelled = false;
  /** Request trailers (gRPC client metadata sent at the end), once complete. */
  trailers: HeaderBag | null = null;
  readonly #writer: StreamWriter;
  #sink: BodySink | null = null;
  #queued: Buffer[] | null = null;
  /** Bytes delivered or queued whose window is not returned yet (the sink pushed back, or nobody reads yet). */
  #held = 0;
  #paused = false;
  #discard = false;

  constructor(writer: StreamWriter, id: number, headers: HeaderBag, endStream: boolean, contentLength: number, socket: Socket, window: RecvWindow) {
    this.#writer = writer;
    this.id = id;
    this.headers = headers;
    this.socket = socket;
    this.method = headers[':method'] as string;
    this.url = headers[':path'] as string | undefined;
    this.hasBody = !endStream;
    this.complete = endStream;
    this.remoteClosed = endStream;
    this.contentLength = contentLength;
    this.window = window;
  }

  /**
   * Starts forwarding the body into `sink` with back-pressure: `data` returning false stops returning window to the
   * client until `resume()`. Returns the bytes already received; `sink.end()` follows unless `complete` is true.
   */
  attachBody(sink: BodySink): Buffer | null {
    this.#sink = sink;
    const q = this.#queued;
    this.#queued = null;
    if (q === null) return null;
    this.resume();
    return q.length === 1 ? q[0]! : Buffer.concat(q);
  }

  /** The sink drained: the held bytes' window goes back to the client. */
  resume(): void {
    this.#paused = false;
    const n = this.#held;
    if (n === 0) return;
    this.#held = 0;
    this.#writer.consumed(this, n);
  }

  /** @internal Nobody will read the rest of the body (the response is complete): it is dropped as it arrives, window returned. */
  discard(): void {
    this.#discard = true;
    this.#sink = null;
    this.#queued = null;
    this.#paused = false;
    const n = this.takeHeld();
    if (n > 0) this.#writer.consumed(this, n);
  }

  /** @internal A DATA payload (a view of the received bytes). */
  onData(chunk: Buffer): void {
    if (this.#discard) {
      this.#writer.consumed(this, chunk.length);
      return;
    }
    const sink = this.#sink;
    if (sink === null) {
      (this.#queued ??= []).push(chunk);
      this.#held += chunk.length;
      return;
    }
    // A sink that pushed back still takes what the window already let the client send; the window stays shut until resume().
    const ok = sink.data(chunk);
    if (ok && !this.#paused) this.#writer.consumed(this, chunk.length);
    else {
      this.#paused = true;
      this.#held += chunk.length;
    }
  }

  /** @internal END_STREAM, after the body or with request trailers. */
  onEnd(trailers: HeaderBag | null): void {
    this.complete = true;
    this.trailers = trailers;
    this.#sink?.end(trailers);
  }

  /** @internal Bytes whose window was never returned (the stream is closing): the connection takes them back. */
  takeHeld(): number {
    const n = this.#held;
    this.#held = 0;
    return n;
  }

  /** @internal The body cannot complete. */
  fail(e: Error): void {
    this.cancelled = true;
    const sink = this.#sink;
    this.#sink = null;
    this.#queued = null;
    sink?.error(e);
  }
}

/**
 * The response on the same stream: the surface serve and the rescue use (writeHead, write, end, addTrailers, destroy,
 * 'close'/'drain'). The HEADERS frame goes out with the first write or end, or at the end of writeHead's tick at the
 * latest; so a response ended right away (a gRPC error, a 204) is one HEADERS frame with END_STREAM (trailers-only).
 */
export class Http2Response extends DownstreamResponseBase {
  readonly request: Http2Request;
  /** @internal The peer's window for this stream (may go negative after a SETTINGS change). */ sendWindow: number;
  /** @internal Data not yet sent (waiting for window). */ pending: Buffer[] = [];
  /** @internal */ pendingBytes = 0;
  /** @internal end() was called: END_STREAM goes out once pending is sent. */ endPending = false;
  /** @internal We sent END_STREAM (half-closed local). */ localClosed = false;
  /** @internal Trailers to send as the last HEADERS frame. */ trailers: Record<string, unknown> | null = null;
  /** @internal The sweep saw traffic on this stream since its last pass. */ active = true;
  /** @internal When the sweep last saw traffic. */ lastActive = 0;
  /** @internal The response has no body (HEAD, 204, 304). */ noBody = false;
  /** @internal Body bytes received when the response completed first (the rest is dropped), or -1. */ discardFrom = -1;
  /** @internal Waiting for 'drain'. */ waitingDrain = false;
  readonly #writer: StreamWriter;
  #started = false;

  constructor(writer: StreamWriter, request: Http2Request, sendWindow: number) {
    super();
    this.#writer = writer;
    this.request = request;
    this.sendWindow = sendWindow;
  }

  /** @internal The stream id (the sending half of flow control reads it). */
  get id(): number {
    return this.request.id;
  }

  /** The head goes out with the first write or end, or at the end of this tick at the latest (flushHeads). */
  protected override headWritten(): void {
    if (pendingHeads.push(this) === 1) queueMicrotask(flushHeads);
  }

  /** @internal Sends a head still held at the end of the tick in which writeHead ran. */
  flushHead(): void {
    if (!this.#started && !this.writableEnded && !this.destroyed) this.#start(false, false);
  }

  /** An interim 100 Continue (the client sent Expect: 100-continue). */
  writeContinue(): void {
    if (!this.#started && !this.destroyed) this.#writer.writeHead(this, 100, null, false);
  }

  addTrailers(t: Readonly<Record<string, unknown>>): void {
    this.trailers = this.trailers === null ? { ...t } : Object.assign(this.trailers, t);
  }

  write(chunk: Buffer | string): boolean {
    if (this.writableEnded || this.destroyed) return false;
    if (!this.#started && !this.#start(false, false)) return false;
    if (this.noBody) return true;
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (data.length > 0) {
      this.pending.push(data);
      this.pendingBytes += data.length;
      this.#writer.flush(this);
    }
    if (this.pendingBytes === 0 && !this.#writer.congested) return true;
    this.waitingDrain = true;
    return false;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded || this.destroyed) return this;
    const data = chunk === undefined ? null : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const hasData = data !== null && data.length > 0;
    if (!this.#started && !this.#start(true, hasData)) return this;
    this.writableEnded = true;
    if (this.localClosed) return this; // the head carried END_STREAM
    if (hasData && !this.noBody) {
      this.pending.push(data);
      this.pendingBytes += data.length;
    }
    this.endPending = true;
    this.#writer.flush(this);
    return this;
  }

  /** Resets the stream (a response that cannot be completed must not look complete). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.#writer.reset(this, 0x2 /* INTERNAL_ERROR */);
  }

  /** @internal Window or socket room came back: tell a writer that was pushed back. */
  drained(): void {
    if (!this.waitingDrain || this.pendingBytes > 0) return;
    this.waitingDrain = false;
    this.emitDrain();
  }

  /** @internal The stream closed (both sides done, reset, or the connection lost). */
  streamClosed(): void {
    if (this.closed) return;
    if (!this.writableEnded) this.destroyed = true;
    this.emitClose();
  }

  /** Sends the HEADERS frame. `ending`: end() came first; with no data and no trailers the head ends the stream. */
  #start(ending: boolean, hasData: boolean): boolean {
    this.#started = true;
    this.headersSent = true;
    const status = this.statusCode;
    this.noBody = this.request.method === 'HEAD' || status === 204 || status === 205 || status === 304;
    const endStream = this.noBody || (ending && !hasData && (this.trailers === null || isEmpty(this.trailers)));
    if (!this.#writer.writeHead(this, status, this.responseHeaders(), endStream)) return false;
    if (endStream) this.writableEnded = true;
    return true;
  }
}

function isEmpty(o: Readonly<Record<string, unknown>>): boolean {
  for (const _ in o) return false;
  return true;
}

/** Responses whose head waits for the end of this tick (one microtask for all of them, no closure per response). */
let pendingHeads: Http2Response[] = [];

function flushHeads(): void {
  const heads = pendingHeads;
  pendingHeads = [];
  for (const r of heads) r.flushHead();
}
