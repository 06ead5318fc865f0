// What both client stages share for one attempt: the promise, the deadline and stream idle timeout, endpoint accounting
// and the circuit breaker's slot, the attempt's result for outlier detection, and a response body that buffers what
// arrives before serve starts it.
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import type { EndpointHandle } from '../upstream/upstream-cluster.ts';
import { DeadlineQueue, type Deadlined } from './deadline-queue.ts';
import type { Admission, CancelHandler, ProxyRequest } from './proxy-request.ts';
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
  /** The circuit breaker's slot this attempt holds (req.admission when it was made), released with the endpoint's. */
  #admission: Admission | null;
  /** @internal DeadlineQueue's: the attempt's deadline and its place in the queue (-1: none). */
  deadlineAt = 0;
  /** @internal */
  heapIndex = -1;
  readonly #sentAt: number;
  /** This try's own deadline (0: none); the retry layer moves req.deadline on once the try settles, its body still streaming. */
  readonly #deadline: number;
  /** The route's stream idle timeout (0: none), and when the response last moved: the head, then each body chunk (-1: no head yet). */
  readonly #idleMs: number;
  #lastActivity = -1;
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
    this.#admission = req.admission;
    req.admission = null;
    const sentAt = performance.now();
    this.#sentAt = sentAt;
    this.promise = new Promise<ProxyResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const deadline = req.deadline;
    const idleMs = req.streamIdleMs;
    this.#deadline = deadline;
    this.#idleMs = idleMs;
    if (idleMs !== 0) {
      // Queued at the earlier of the deadline and the soonest the body could be idle (its clock starts at the head, not
      // before): early, never late. A chunk only stores a time; the queue firing (timedOut) looks at the clock and
      // re-queues, so no chunk touches the heap and no response gets a wrapper, a timer or a set entry of its own.
      const idleAt = sentAt + idleMs;
      this.deadlineAt = deadline !== 0 && deadline < idleAt ? deadline : idleAt;
      DEADLINES.add(this);
    } else if (deadline !== 0) {
      this.deadlineAt = deadline;
      DEADLINES.add(this);
    }
    req.onCancel(this);
  }

  /** Closes or cancels the upstream side (connection or stream); no more callbacks are wanted. */
  protected abstract abortUpstream(): void;

  /** The upstream sink drained: let it send more. */
  abstract resume(): void;

  /** The response head arrived: the endpoint's latency, and the start of the stream idle clock. */
  protected headArrived(): void {
    const now = performance.now();
    this.#lastActivity = now;
    this.endpoint.state.observeLatency(now - this.#sentAt);
  }

  protected resolve(res: ProxyResponse): void {
    if (this.#settled) return;
    this.#settled = true;
    this.req.attemptObserver?.answered(this.endpoint, res.status);
    this.#resolve(res);
  }

  /** The attempt failed: reject if no response was given yet, else fail its body (the rescue resets or trails). */
  protected fail(e: ProxyError): void {
    this.#stop();
    if (!this.#settled) {
      this.#settled = true;
      this.req.attemptObserver?.failed(this.endpoint, e);
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
    if (this.#idleMs !== 0) this.#lastActivity = performance.now();
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
      this.#admission?.release();
    }
  }

  /** @internal The queued time came: the deadline passed, or the body may be idle (look at the clock, re-queue if not). */
  timedOut(): void {
    const idleMs = this.#idleMs;
    const deadline = this.#deadline;
    if (idleMs !== 0) {
      const now = performance.now();
      if (deadline === 0 || now < deadline) {
        const last = this.#lastActivity;
        // No head yet: the idle clock has not started; look again an idle time from now.
        const idleAt = (last >= 0 ? last : now) + idleMs;
        if (now >= idleAt) {
          this.abort();
          return this.fail(new ProxyError(ERRORS.streamIdleTimeout));
        }
        // A byte came since it was queued: look again when the body could be idle (always later than now).
        this.deadlineAt = deadline !== 0 && deadline < idleAt ? deadline : idleAt;
        DEADLINES.add(this);
        return;
      }
    }
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
