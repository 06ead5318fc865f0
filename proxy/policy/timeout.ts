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

/** A response body cut when no byte arrives for `idleMs` (the route's streamIdleTimeoutMs). */
class IdleBody implements ResponseBody, ResponseSink {
  readonly #inner: ResponseBody;
  readonly #idleMs: number;
  #sink: ResponseSink | null = null;
  #timer: NodeJS.Timeout | null = null;
  #done = false;

  constructor(inner: ResponseBody, idleMs: number) {
    this.#inner = inner;
    this.#idleMs = idleMs;
  }

  readonly #onIdle = (): void => {
    if (this.#done) return;
    this.#done = true;
    this.#inner.cancel();
    this.#sink!.error(new ProxyError(ERRORS.streamIdleTimeout));
  };

  #stop(): void {
    this.#done = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
  }

  start(sink: ResponseSink): void {
    this.#sink = sink;
    this.#timer = setTimeout(this.#onIdle, this.#idleMs);
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
    // refresh() re-arms the same timer: no allocation per chunk.
    this.#timer?.refresh();
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
  // One function per layer, made at config time: no async frame or closure per request.
  const watch = (res: ProxyResponse): ProxyResponse => (res.body === null ? res : new ProxyResponse(res.status, res.headers, new IdleBody(res.body, idleMs), res.trailers));
  return (inner) => (req) => inner(req).then(watch);
}
