// What the HTTP/1.1 and HTTP/2 downstream responses share: the state the forwarder and rescue read (status, headersSent,
// writableEnded, destroyed), headers set before writeHead, and one-shot 'close'/'drain' listeners kept in plain arrays
// (an EventEmitter per request cost more than the rest of the response object).
import type { HeaderBag } from './hop-headers.ts';

export abstract class DownstreamResponseBase {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  #headers: Readonly<Record<string, unknown>> | null = null;
  #preset: HeaderBag | null = null;
  #closed = false;
  /** The first 'close' listener (serve's, on every request) in a field; only further ones make an array. */
  #onClose1: (() => void) | null = null;
  #onClose: (() => void)[] | null = null;
  #onDrain: (() => void)[] | null = null;

  /** Runs `fn` once, at the next 'close' or 'drain'. */
  once(event: 'close' | 'drain', fn: () => void): this {
    if (event === 'close') {
      if (this.#closed) queueMicrotask(fn);
      else if (this.#onClose1 === null) this.#onClose1 = fn;
      else (this.#onClose ??= []).push(fn);
    } else (this.#onDrain ??= []).push(fn);
    return this;
  }

  setHeader(name: string, value: string): this {
    (this.#preset ??= Object.create(null) as HeaderBag)[name.toLowerCase()] = value;
    return this;
  }

  writeHead(status: number, headers?: Readonly<Record<string, unknown>>): this {
    if (this.headersSent) return this;
    this.statusCode = status;
    this.#headers = headers ?? null;
    this.headersSent = true;
    this.headWritten();
    return this;
  }

  /** Called once writeHead has recorded the head (the protocol decides when it goes out). */
  protected headWritten(): void {}

  /** writeHead's headers over those set with setHeader. */
  protected responseHeaders(): Readonly<Record<string, unknown>> | null {
    const headers = this.#headers;
    const preset = this.#preset;
    if (preset === null) return headers;
    return headers === null ? preset : { ...preset, ...headers };
  }

  /** The 'close' listeners have run. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** Runs the 'drain' listeners. */
  protected emitDrain(): void {
    const fns = this.#onDrain;
    this.#onDrain = null;
    if (fns !== null) for (const fn of fns) fn();
  }

  /** Runs the 'close' listeners, once. */
  protected emitClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    const first = this.#onClose1;
    const fns = this.#onClose;
    this.#onClose1 = null;
    this.#onClose = null;
    this.#onDrain = null;
    if (first !== null) first();
    if (fns !== null) for (const fn of fns) fn();
  }
}
