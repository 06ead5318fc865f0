// A request body as the stack sees it: streamed into one sink at a time with back-pressure, replayable from a bounded buffer.
import type { HeaderBag } from '../http/hop-headers.ts';
import type { BodySink } from '../http1/server-connection.ts';

/** The downstream side of a body (Http1Request and H2Request both implement it). */
export interface BodySource {
  attachBody(sink: BodySink): Buffer | null;
  resume(): void;
  readonly complete: boolean;
  /** Request trailers received before the body was attached (HTTP/2), if any. */
  readonly trailers?: HeaderBag | null;
}

/**
 * The body of one ProxyRequest. By default it is forwarded once, unbuffered. A retry or mirror layer calls `retain(limit)`
 * before the first `open`: the bytes are then also kept until `limit` is exceeded, and while they all fit, `open` can be
 * called again for another attempt (the kept bytes are handed out first, then live bytes follow).
 */
export class RequestBody implements BodySink {
  /** Declared length (Content-Length), or -1 when unknown (chunked, HTTP/2 without content-length). */
  readonly length: number;
  readonly #source: BodySource;
  #sink: BodySink | null = null;
  #opened = false;
  #limit = 0;
  #kept: Buffer[] | null = null;
  #keptBytes = 0;
  #overflowed = false;
  #ended = false;
  #error: Error | null = null;
  /** Bytes received from the client so far (metrics, access logs). */
  received = 0;
  /** Request trailers the client sent after the body (HTTP/2), once complete; handed to every sink's end. */
  trailers: HeaderBag | null = null;

  constructor(source: BodySource, length: number) {
    this.#source = source;
    this.length = length;
  }

  /** Keeps up to `limit` bytes for replay (only before the first open; a declared length over the limit never fits). */
  retain(limit: number): void {
    if (this.#opened || limit <= 0) return;
    if (this.length > limit) {
      this.#overflowed = true;
      return;
    }
    this.#limit = Math.max(this.#limit, limit);
    this.#kept ??= [];
  }

  /** A body that is already whole in memory (a mirror's copy of a kept body). */
  static of(bytes: Buffer): RequestBody {
    const source: BodySource = { attachBody: () => (bytes.length === 0 ? null : bytes), resume: () => {}, complete: true };
    return new RequestBody(source, bytes.length);
  }

  /** Every byte of the body, once it has all arrived and all of it was kept (see `retain`); otherwise null. Never opens it. */
  snapshot(): Buffer | null {
    if (!this.#ended || this.#error !== null || this.#overflowed) return null;
    if (!this.#opened) return null;
    const kept = this.#kept;
    if (kept === null) return null;
    return kept.length === 1 ? kept[0]! : Buffer.concat(kept);
  }

  /** Whether `open` may be called again: every byte received so far is still kept. */
  get replayable(): boolean {
    return !this.#opened || (this.#kept !== null && !this.#overflowed);
  }

  /** Every byte has arrived from the client. */
  get complete(): boolean {
    return this.#ended;
  }

  /**
   * Starts delivery into `sink` (replacing any previous sink). Returns the bytes available now (to send with the head) or
   * null; later bytes go to `sink.data`, then `sink.end()` unless `complete` is already true on return.
   * Throws if the body is not replayable: callers check `replayable` first.
   */
  open(sink: BodySink): Buffer | null {
    if (!this.#opened) {
      this.#opened = true;
      this.#sink = sink;
      const first = this.#source.attachBody(this);
      if (this.#source.complete) {
        this.#ended = true;
        this.trailers = this.#source.trailers ?? null;
      }
      if (first !== null) {
        this.received += first.length;
        this.#keep(first);
      }
      return first;
    }
    if (!this.replayable) throw new Error('request body is not replayable');
    this.#sink = sink;
    const kept = this.#kept!;
    if (this.#error !== null) queueMicrotask(() => sink.error(this.#error!));
    return kept.length === 0 ? null : kept.length === 1 ? kept[0]! : Buffer.concat(kept);
  }

  /** The current sink goes away (its attempt was abandoned); bytes keep being kept for the next one. */
  detach(): void {
    this.#sink = null;
    // Whoever comes next must not wait on a paused client.
    this.#source.resume();
  }

  /** The sink drained: read from the client again. */
  resume(): void {
    this.#source.resume();
  }

  #keep(chunk: Buffer): void {
    const kept = this.#kept;
    if (kept === null || this.#overflowed) return;
    this.#keptBytes += chunk.length;
    if (this.#keptBytes > this.#limit) {
      this.#overflowed = true;
      this.#kept = null;
      return;
    }
    kept.push(chunk);
  }

  // BodySink, fed by the downstream request.
  data(chunk: Buffer): boolean {
    this.received += chunk.length;
    this.#keep(chunk);
    const sink = this.#sink;
    return sink === null ? true : sink.data(chunk);
  }

  end(trailers?: HeaderBag | null): void {
    this.#ended = true;
    this.trailers = trailers ?? null;
    this.#sink?.end(this.trailers);
  }

  error(e: Error): void {
    this.#error = e;
    this.#sink?.error(e);
  }
}
