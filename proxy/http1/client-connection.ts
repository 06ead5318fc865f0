// One upstream HTTP/1.1 keep-alive connection on a raw socket: sends one request at a time and parses its response strictly.
import type { Socket } from 'node:net';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import { BODY_ERROR, BodyDecoder } from './body-decoder.ts';
import { ByteAccumulator } from './byte-accumulator.ts';
import { findHeadEnd, parseResponseHead, type ResponseHead } from './head-parser.ts';
import { writeMessage } from './head-writer.ts';

/** What an upstream may send in one response head (node:http's client allowed 16 KiB). */
const MAX_RESPONSE_HEAD_BYTES = 65_536;
const MAX_RESPONSE_FIELDS = 1_000;

/** The callbacks of one exchange. After onEnd or onError nothing more is called. */
export interface ExchangeHandler {
  /** The final (non-1xx) response head. */
  onResponse(head: ResponseHead): void;
  /** Body bytes; returning false pauses the upstream until `resume()`. */
  onData(chunk: Buffer): boolean;
  onEnd(trailers: HeaderBag | null): void;
  /** `retryable`: a reused connection failed before a single response byte (the upstream closed it while idle). */
  onError(e: Error, retryable: boolean): void;
  /** The request can take more body bytes. */
  onDrain(): void;
}

/** What the pool does with a connection when an exchange is over. */
export interface ConnectionOwner {
  release(conn: Http1ClientConnection): void;
  removed(conn: Http1ClientConnection): void;
}

export class Http1ClientConnection {
  readonly socket: Socket;
  /** True once it has served an exchange (a failure before any byte may then be the upstream's idle close). */
  reused = false;
  /** When it last went back to the pool (the pool's idle eviction reads it). */
  idleSince = 0;
  readonly #owner: ConnectionOwner;
  #handler: ExchangeHandler | null = null;
  #headOnly = false;
  #chunked = false;
  #requestDone = false;
  #gotBytes = false;
  #keepAlive = true;
  /** An incomplete response head, and how much of it was already searched for its end. */
  #buf: Buffer | null = null;
  #scanned = 0;
  #acc: ByteAccumulator | null = null;
  #decoder: BodyDecoder | null = null;
  #error: Error | null = null;
  #paused = false;
  #wantDrain = false;

  constructor(socket: Socket, owner: ConnectionOwner) {
    this.socket = socket;
    this.#owner = owner;
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('end', this.#onEnd);
    socket.on('error', (e: Error) => {
      this.#error ??= e;
    });
    socket.once('close', this.#onClose);
  }

  /** Starts an exchange: writes the head (and the body bytes known so far) in one write. */
  send(handler: ExchangeHandler, head: string, chunked: boolean, body: Buffer | null, end: boolean, headOnly: boolean): void {
    this.#handler = handler;
    this.#headOnly = headOnly;
    this.#chunked = chunked;
    this.#requestDone = end;
    this.#gotBytes = false;
    this.#keepAlive = true;
    this.#buf = null;
    this.#scanned = 0;
    this.#decoder = null;
    if (this.socket.destroyed) {
      // Destroyed while waiting in the pool between its last exchange and this one.
      queueMicrotask(() => this.#fail(this.#error ?? new ProxyError(ERRORS.upstreamReset, 'connection closed'), this.reused));
      return;
    }
    let h = head;
    let tail: string | null = null;
    if (chunked) {
      if (body !== null && body.length > 0) {
        h += `${body.length.toString(16)}\r\n`;
        tail = end ? '\r\n0\r\n\r\n' : '\r\n';
      } else {
        body = null;
        if (end) tail = '0\r\n\r\n';
      }
    }
    if (!writeMessage(this.socket, h, body, tail)) this.#wantDrain = true;
  }

  /** More request body; false means wait for onDrain. */
  write(chunk: Buffer): boolean {
    if (this.#handler === null || this.#requestDone || this.socket.destroyed) return true;
    const ok = this.#chunked ? writeMessage(this.socket, `${chunk.length.toString(16)}\r\n`, chunk, '\r\n') : this.socket.write(chunk);
    if (!ok) this.#wantDrain = true;
    return ok;
  }

  /** The request body is complete. */
  end(): void {
    if (this.#handler === null || this.#requestDone || this.socket.destroyed) return;
    this.#requestDone = true;
    if (this.#chunked) this.socket.write('0\r\n\r\n', 'latin1');
  }

  /** The response consumer drained: read from the upstream again. */
  resume(): void {
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
  }

  /** Abandons the exchange (client gone, timeout): the connection is closed, no more callbacks. */
  abort(): void {
    this.#handler = null;
    this.socket.destroy();
  }

  #fail(e: Error, retryable: boolean): void {
    const h = this.#handler;
    this.#handler = null;
    this.socket.destroy();
    h?.onError(e, retryable);
  }

  #finish(leftover: boolean): void {
    const h = this.#handler!;
    const trailers = this.#decoder?.trailers ?? null;
    this.#handler = null;
    this.#decoder = null;
    this.#buf = null;
    this.reused = true;
    // Bytes after a complete response (a body on a HEAD or 204 answer), an unfinished request, or "close": not reusable.
    if (this.#keepAlive && !leftover && this.#requestDone && !this.socket.destroyed) {
      if (this.#paused) {
        this.#paused = false;
        this.socket.resume();
      }
      this.#owner.release(this);
    } else this.socket.destroy();
    h.onEnd(trailers);
  }

  readonly #onData = (chunk: Buffer): void => {
    const h = this.#handler;
    if (h === null) {
      // Nobody asked: an upstream talking out of turn is not trusted with the next request.
      this.socket.destroy();
      return;
    }
    this.#gotBytes = true;
    if (this.#decoder === null) {
      let buf = (this.#acc ??= new ByteAccumulator(2 * MAX_RESPONSE_HEAD_BYTES)).append(this.#buf, chunk);
      for (;;) {
        const end = findHeadEnd(buf, 0, MAX_RESPONSE_HEAD_BYTES, this.#scanned);
        if (end === -1) {
          this.#buf = buf;
          this.#scanned = buf.length;
          return;
        }
        this.#scanned = 0;
        if (end < -1) return this.#fail(new ProxyError(ERRORS.upstreamProtocol, 'malformed response head'), false);
        const head = parseResponseHead(buf, 0, end, MAX_RESPONSE_FIELDS);
        if (typeof head === 'number') return this.#fail(new ProxyError(ERRORS.upstreamProtocol, 'malformed response head'), false);
        buf = buf.subarray(end);
        if (head.status === 101) return this.#fail(new ProxyError(ERRORS.upstreamProtocol, 'unsolicited 101'), false);
        if (head.status < 200) {
          // Informational answers (100, 103) are not relayed; any number of them costs no memory.
          if (buf.length === 0) {
            this.#buf = null;
            return;
          }
          continue;
        }
        this.#buf = null;
        this.#keepAlive = !head.close;
        const s = head.status;
        if (this.#headOnly || s === 204 || s === 304) this.#decoder = new BodyDecoder('length', 0, 0);
        else if (head.chunked) this.#decoder = new BodyDecoder('chunked', 0, MAX_RESPONSE_HEAD_BYTES);
        else if (head.contentLength >= 0) this.#decoder = new BodyDecoder('length', head.contentLength, 0);
        else {
          this.#decoder = new BodyDecoder('close', 0, 0);
          this.#keepAlive = false;
        }
        h.onResponse(head);
        if (this.#handler !== h) return;
        chunk = buf;
        break;
      }
    }
    const decoder = this.#decoder!;
    const end = decoder.feed(chunk, 0, this.#deliver);
    if (this.#handler !== h) return;
    if (end === BODY_ERROR) return this.#fail(new ProxyError(ERRORS.upstreamProtocol, 'malformed response body'), false);
    if (decoder.done) this.#finish(end < chunk.length);
  };

  readonly #deliver = (chunk: Buffer): void => {
    const h = this.#handler;
    if (h !== null && !h.onData(chunk) && !this.#paused) {
      this.#paused = true;
      this.socket.pause();
    }
  };

  readonly #onDrain = (): void => {
    if (this.#wantDrain) {
      this.#wantDrain = false;
      this.#handler?.onDrain();
    }
  };

  readonly #onEnd = (): void => {
    const d = this.#decoder;
    if (this.#handler !== null && d !== null && d.finishAtClose()) {
      this.#keepAlive = false;
      this.#finish(false);
    }
  };

  readonly #onClose = (): void => {
    this.#owner.removed(this);
    if (this.#handler === null) return;
    if (!this.#gotBytes) {
      const e = this.#error ?? Object.assign(new Error('upstream closed the connection'), { code: 'ECONNRESET' });
      return this.#fail(e, this.reused && this.#error?.constructor !== ProxyError);
    }
    this.#fail(new ProxyError(ERRORS.upstreamReset, this.#decoder === null ? 'connection closed inside the response head' : 'response body cut short'), false);
  };
}
