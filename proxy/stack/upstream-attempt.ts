// What both client stages share for one attempt: the promise, the deadline timer, endpoint accounting, and a response body
// that buffers what arrives before serve starts it.
import { performance } from 'node:perf_hooks'; // the module's binding: the global is a lazy accessor, a call on every use
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import type { EndpointHandle } from '../upstream/upstream-cluster.ts';
import { DeadlineQueue, type Deadlined } from './deadline-queue.ts';
import type { CancelHandler, ProxyRequest } from './proxy-request.ts';
import type { ProxyResponse, ResponseSink } from './proxy-response.ts';

/** Body bytes held for a response whose consumer has not started yet before the upstream is paused. */
const MAX_PENDING_BYTES = 65_536;

/** The deadlines of every attempt in flight in this process (one timer for all). */
const DEADLINES = new DeadlineQueue();

export abstract class UpstreamAttempt implements CancelHandler, Deadlined {
  readonly req: ProxyRequest;
  readonly endpoint: EndpointHandle;
  readonly promise: Promise<ProxyResponse>;
  protected aborted = false;
  #resolve!: (r: ProxyResponse) => void;
  #reject!: (e: ProxyError) => void;
  #settled = false;
  #released = false;
  /** @internal DeadlineQueue's: the attempt's deadline and its place in the queue (-1: none). */
  deadlineAt = 0;
  /** @internal */
  heapIndex = -1;
  readonly #sentAt: number;
  #sink: ResponseSink | null = null;
  #pending: Buffer[] | null = null;
  #pendingBytes = 0;
  #ended = false;
  #trailers: HeaderBag | null = null;
  #error: ProxyError | null = null;
  #paused = false;

  constructor(req: ProxyRequest, endpoint: EndpointHandle) {
    this.req = req;
    this.endpoint = endpoint;
    endpoint.state.active++;
    this.#sentAt = performance.now();
    this.promise = new Promise<ProxyResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (req.deadline !== 0) {
      this.deadlineAt = req.deadline;
      DEADLINES.add(this);
    }
    req.onCancel(this);
  }

  /** Closes or cancels the upstream side (connection or stream); no more callbacks are wanted. */
  protected abstract abortUpstream(): void;

  /** The upstream sink drained: let it send more. */
  abstract resume(): void;

  protected observeLatency(): void {
    this.endpoint.state.observeLatency(performance.now() - this.#sentAt);
  }

  protected resolve(res: ProxyResponse): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(res);
  }

  /** The attempt failed: reject if no response was given yet, else fail its body (the rescue resets or trails). */
  protected fail(e: ProxyError): void {
    this.#stop();
    if (!this.#settled) {
      this.#settled = true;
      this.#reject(e);
      return;
    }
    if (this.#ended || this.#error !== null) return;
    const sink = this.#sink;
    if (sink !== null) sink.error(e);
    else this.#error = e;
  }

  /** Response body bytes; false asks the upstream to pause until resume(). */
  protected deliver(chunk: Buffer): boolean {
    const sink = this.#sink;
    if (sink !== null) return sink.data(chunk);
    (this.#pending ??= []).push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes <= MAX_PENDING_BYTES) return true;
    this.#paused = true;
    return false;
  }

  /** The response body is complete. */
  protected finish(trailers: HeaderBag | null): void {
    this.#stop();
    this.#ended = true;
    const sink = this.#sink;
    if (sink !== null) return sink.end(trailers);
    this.#trailers = trailers;
  }

  protected abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#stop();
    this.abortUpstream();
  }

  // ResponseBody
  start(sink: ResponseSink): void {
    this.#sink = sink;
    const pending = this.#pending;
    this.#pending = null;
    if (pending !== null) for (const c of pending) sink.data(c);
    if (this.#error !== null) return sink.error(this.#error);
    if (this.#ended) return sink.end(this.#trailers);
    if (this.#paused) {
      this.#paused = false;
      this.resume();
    }
  }

  cancel(): void {
    this.#sink = null;
    this.abort();
  }

  #stop(): void {
    if (this.heapIndex >= 0) DEADLINES.remove(this);
    if (!this.#released) {
      this.#released = true;
      this.endpoint.state.active--;
    }
  }

  /** @internal The deadline passed. */
  timedOut(): void {
    this.abort();
    this.fail(new ProxyError(ERRORS.timeout));
  }

  /** CancelHandler: the client went away: stop the upstream; a pending promise settles so nothing waits on it. */
  clientCancelled(): void {
    if (this.#ended) return;
    this.abort();
    this.fail(new ProxyError(ERRORS.clientCancelled));
  }
}
