// Timeouts of the policy layers: the per-try deadline of one attempt, grpc-timeout passed on reduced by the time spent, stream idle.
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import { ProxyResponse, type ResponseBody, type ResponseSink } from '../stack/proxy-response.ts';
import type { Layer } from '../stack/service.ts';

/** grpc-timeout allows at most 8 digits (gRPC over HTTP/2 spec). */
const MAX_DIGITS = 99_999_999;

/** Formats a remaining time for the grpc-timeout header: milliseconds while they fit, else seconds (rounded up). */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole <= MAX_DIGITS ? `${whole}m` : `${Math.min(MAX_DIGITS, Math.ceil(whole / 1000))}S`;
}

/**
 * Sets the deadline of the attempt about to start: the request's deadline, shortened to `perTryMs` from now when that is
 * sooner, and tells a gRPC upstream how much is left. Returns true when the per-try deadline is the one that applies
 * (a timeout of this attempt is then a per-try timeout, retryable, not the end of the request).
 */
export function startAttempt(req: ProxyRequest, overallDeadline: number, perTryMs: number, now: number): boolean {
  let deadline = overallDeadline;
  let perTry = false;
  if (perTryMs > 0 && (deadline === 0 || now + perTryMs < deadline)) {
    deadline = now + perTryMs;
    perTry = true;
  }
  req.deadline = deadline;
  if (req.grpc && deadline !== 0) req.headers['grpc-timeout'] = formatGrpcTimeout(deadline - now);
  return perTry;
}

/**
 * The response bodies of one route's stream idle timeout, watched by one interval timer (a tenth of the timeout) rather
 * than a timer each: a timer per response cost about as much as the rest of the policy layers together (bench/profile.ts
 * --policy-defaults). A body is cut at the first tick at least `idleMs` after its last byte, so within 1.1 x idleMs. The
 * timer runs only while a body is watched, and never keeps the process alive.
 */
class IdleWatch {
  readonly idleMs: number;
  readonly #tickMs: number;
  readonly #bodies = new Set<IdleBody>();
  #timer: NodeJS.Timeout | null = null;

  constructor(idleMs: number) {
    this.idleMs = idleMs;
    this.#tickMs = Math.max(1, Math.floor(idleMs / 10));
  }

  add(b: IdleBody): void {
    this.#bodies.add(b);
    if (this.#timer === null) (this.#timer = setInterval(this.#sweep, this.#tickMs)).unref();
  }

  delete(b: IdleBody): void {
    this.#bodies.delete(b);
  }

  readonly #sweep = (): void => {
    const now = Date.now();
    for (const b of this.#bodies) {
      if (now - b.lastActivity < this.idleMs) continue;
      this.#bodies.delete(b);
      b.idle();
    }
    if (this.#bodies.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  };
}

/** A response body cut when no byte arrives for `idleMs` (the route's streamIdleTimeoutMs). */
class IdleBody implements ResponseBody, ResponseSink {
  readonly #inner: ResponseBody;
  readonly #watch: IdleWatch;
  #sink: ResponseSink | null = null;
  #done = false;
  /** Date.now() of the start or the last byte (milliseconds are enough for an idle timeout). */
  lastActivity = 0;

  constructor(inner: ResponseBody, watch: IdleWatch) {
    this.#inner = inner;
    this.#watch = watch;
  }

  /** The watch found it idle. */
  idle(): void {
    if (this.#done) return;
    this.#done = true;
    this.#inner.cancel();
    this.#sink!.error(new ProxyError(ERRORS.streamIdleTimeout));
  }

  #stop(): void {
    this.#done = true;
    this.#watch.delete(this);
  }

  start(sink: ResponseSink): void {
    this.#sink = sink;
    this.lastActivity = Date.now();
    this.#watch.add(this);
    this.#inner.start(this);
  }
  resume(): void {
    this.#inner.resume();
  }
  cancel(): void {
    this.#stop();
    this.#inner.cancel();
  }
  data(chunk: Buffer): boolean {
    if (this.#done) return true;
    this.lastActivity = Date.now();
    return this.#sink!.data(chunk);
  }
  end(trailers: HeaderBag | null): void {
    if (this.#done) return;
    this.#stop();
    this.#sink!.end(trailers);
  }
  error(e: ProxyError): void {
    if (this.#done) return;
    this.#stop();
    this.#sink!.error(e);
  }
}

/** The stream idle timeout of a route: its response bodies are cut after `idleMs` without a byte. */
export function streamIdleLayer(idleMs: number): Layer {
  const watch = new IdleWatch(idleMs);
  // One function per layer, made at config time: no async frame or closure per request.
  const watched = (res: ProxyResponse): ProxyResponse => (res.body === null ? res : new ProxyResponse(res.status, res.headers, new IdleBody(res.body, watch), res.trailers));
  return (inner) => (req) => inner(req).then(watched);
}
