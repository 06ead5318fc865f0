// One downstream HTTP/2 request on node:http2's core stream API: the request/response surface the forwarder and rescue use.
import http2 from 'node:http2';
import type { ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { DownstreamResponseBase } from '../http/downstream-response-base.ts';
import type { HeaderBag } from '../http/hop-headers.ts';

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = http2.constants;

/** Where a request body goes once someone forwards it (the same contract as Http1Request's). */
export interface H2BodySink {
  data(chunk: Buffer): boolean;
  end(): void;
  error(e: Error): void;
}

/** The exchange is stored on its stream so that the stream's listeners are shared module functions, not closures. */
const EXCHANGE: unique symbol = Symbol('skein.h2Exchange');
type ExchangeStream = ServerHttp2Stream & { [EXCHANGE]: H2Response };

function onStreamData(this: ExchangeStream, chunk: Buffer): void {
  const req = this[EXCHANGE].request;
  if (req.sink !== null && chunk.length > 0 && !req.sink.data(chunk)) this.pause();
}

function onStreamEnd(this: ExchangeStream): void {
  const req = this[EXCHANGE].request;
  req.complete = true;
  req.sink?.end();
}

function onStreamError(this: ExchangeStream, e: Error): void {
  const res = this[EXCHANGE];
  if (!res.writableEnded) res.destroyed = true;
  const sink = res.request.sink;
  res.request.sink = null;
  sink?.error(e);
}

function onStreamClose(this: ExchangeStream): void {
  this[EXCHANGE].streamClosed();
}

function onStreamDrain(this: ExchangeStream): void {
  this[EXCHANGE].drained();
}

function onWantTrailers(this: ExchangeStream): void {
  this[EXCHANGE].sendTrailers();
}

/** Responses whose head waits for the end of this tick (one microtask for all of them, no closure per response). */
let pendingHeads: H2Response[] = [];

function flushHeads(): void {
  const heads = pendingHeads;
  pendingHeads = [];
  for (const r of heads) r.flushHead();
}

function onStreamTimeout(this: ServerHttp2Stream): void {
  this.close(NGHTTP2_CANCEL);
}

/** A request as node:http's IncomingMessage presents it to routing (method, url, headers, socket), plus body forwarding. */
export class H2Request {
  readonly method: string;
  readonly url: string | undefined;
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  /** The decoded header block, pseudo-headers included (as Http2ServerRequest.headers). */
  readonly headers: HeaderBag;
  readonly socket: Socket;
  readonly stream: ServerHttp2Stream;
  /** The HEADERS frame did not end the stream. */
  readonly hasBody: boolean;
  complete: boolean;
  /** @internal */
  sink: H2BodySink | null = null;

  constructor(stream: ServerHttp2Stream, headers: HeaderBag, flags: number, socket: Socket) {
    this.stream = stream;
    this.headers = headers;
    this.socket = socket;
    this.method = headers[':method'] as string;
    this.url = headers[':path'] as string | undefined;
    this.hasBody = (flags & NGHTTP2_FLAG_END_STREAM) === 0;
    this.complete = !this.hasBody;
  }

  /**
   * Starts forwarding the body into `sink` with back-pressure (`data` returning false pauses the stream until `resume()`).
   * Returns the bytes already held (none: the stream buffers them itself); `sink.end()` follows unless `complete` is true.
   */
  attachBody(sink: H2BodySink): Buffer | null {
    this.sink = sink;
    const s = this.stream;
    s.on('data', onStreamData);
    s.once('end', onStreamEnd);
    return null;
  }

  /** The sink drained: read from the client again. */
  resume(): void {
    this.stream.resume();
  }
}

/**
 * The response on the same stream: ServerResponse's surface as the forwarder and rescue use it (writeHead, write, end,
 * addTrailers, 'close'/'drain'). The HEADERS frame goes out with the first write or end, or at the end of writeHead's tick
 * at the latest; so a response ended right away (a gRPC error, a 204) is one HEADERS frame with END_STREAM.
 */
export class H2Response extends DownstreamResponseBase {
  readonly request: H2Request;
  readonly stream: ServerHttp2Stream;
  #trailers: Record<string, unknown> | null = null;
  #started = false;
  #noBody = false;
  #waitTrailers = false;
  #waitingDrain = false;

  constructor(stream: ServerHttp2Stream, request: H2Request) {
    super();
    this.stream = stream;
    this.request = request;
    (stream as ExchangeStream)[EXCHANGE] = this;
    stream.on('error', onStreamError);
    stream.once('close', onStreamClose);
  }

  /** Closes the stream with CANCEL if the request stays idle this long (the stream's own timer, refreshed by traffic). */
  setIdleTimeout(ms: number): void {
    this.stream.setTimeout(ms, onStreamTimeout);
  }

  /** The head goes out with the first write or end, or at the end of this tick at the latest (flushHeads). */
  protected override headWritten(): void {
    if (pendingHeads.push(this) === 1) queueMicrotask(flushHeads);
  }

  /** @internal Sends a head still held at the end of the tick in which writeHead ran (the client awaits it). */
  flushHead(): void {
    if (!this.#started && !this.writableEnded && !this.destroyed) this.#respond(false, false);
  }

  /** An interim 100 Continue (the client sent Expect: 100-continue). */
  writeContinue(): void {
    const s = this.stream;
    if (!s.destroyed && !s.headersSent) {
      try {
        s.additionalHeaders({ ':status': 100 });
      } catch {}
    }
  }

  addTrailers(t: Readonly<Record<string, unknown>>): void {
    this.#trailers = this.#trailers === null ? { ...t } : Object.assign(this.#trailers, t);
  }

  write(chunk: Buffer | string): boolean {
    if (this.writableEnded || this.destroyed) return false;
    if (!this.#started && !this.#respond(false, false)) return false;
    if (this.#noBody) return true;
    if (this.stream.write(chunk)) return true;
    if (!this.#waitingDrain) {
      this.#waitingDrain = true;
      this.stream.once('drain', onStreamDrain);
    }
    return false;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded || this.destroyed) return this;
    const hasData = chunk !== undefined && chunk.length > 0;
    if (!this.#started && !this.#respond(true, hasData)) return this;
    this.writableEnded = true;
    const s = this.stream;
    if (!s.writableEnded && !s.destroyed) {
      if (hasData && !this.#noBody) s.end(chunk);
      else s.end();
    }
    return this;
  }

  /** Resets the stream (a response that cannot be completed must not look complete). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.stream.destroy();
  }

  /** @internal */
  sendTrailers(): void {
    const s = this.stream;
    if (s.destroyed || s.closed) return;
    try {
      s.sendTrailers((this.#trailers ?? {}) as http2.OutgoingHttpHeaders);
    } catch {
      s.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  }

  /** @internal */
  drained(): void {
    this.#waitingDrain = false;
    this.emitDrain();
  }

  /** @internal */
  streamClosed(): void {
    if (this.closed) return;
    if (!this.writableEnded) this.destroyed = true;
    this.emitClose();
  }

  /**
   * Sends the HEADERS frame. `ending`: end() came first, so whether trailers follow is known now. Otherwise the stream waits
   * for trailers when they can come: gRPC, a client that asked for them (TE: trailers), or a response announcing them.
   */
  #respond(ending: boolean, hasData: boolean): boolean {
    this.#started = true;
    this.headersSent = true;
    const s = this.stream;
    if (s.destroyed || s.closed || s.headersSent) return false;
    const status = this.statusCode;
    const req = this.request;
    this.#noBody = req.method === 'HEAD' || status === 204 || status === 205 || status === 304;
    const headers = this.responseHeaders();
    const out: Record<string, unknown> = { ...headers, ':status': status };
    delete out.connection;
    let wait: boolean;
    if (ending) wait = this.#trailers !== null;
    else {
      const ct = req.headers['content-type'];
      const te = req.headers.te;
      wait =
        this.#trailers !== null ||
        (typeof ct === 'string' && ct.startsWith('application/grpc')) ||
        (typeof te === 'string' && te.includes('trailers')) ||
        headers?.trailer !== undefined;
    }
    if (this.#noBody) wait = false;
    const endStream = this.#noBody || (ending && !hasData && !wait);
    try {
      s.respond(out as unknown as http2.OutgoingHttpHeaders, { endStream, waitForTrailers: wait });
    } catch {
      // A head that cannot be sent (an invalid header value): the response is cut, never forged.
      this.destroy();
      return false;
    }
    if (wait) {
      this.#waitTrailers = true;
      s.once('wantTrailers', onWantTrailers);
    }
    if (endStream) this.writableEnded = true;
    return true;
  }

  /** Whether the HEADERS frame was sent asking to wait for trailers (a late addTrailers can still be delivered). */
  get acceptsTrailers(): boolean {
    return !this.#started || this.#waitTrailers;
  }
}

/** Wraps a new stream: the request, its response, and the idle timeout. */
export function h2Exchange(stream: ServerHttp2Stream, headers: HeaderBag, flags: number, socket: Socket, idleTimeoutMs: number): H2Response {
  const req = new H2Request(stream, headers, flags, socket);
  const res = new H2Response(stream, req);
  if (idleTimeoutMs > 0) res.setIdleTimeout(idleTimeoutMs);
  return res;
}
