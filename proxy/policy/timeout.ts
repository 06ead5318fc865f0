// Timeouts of the policy layers: the per-try deadline of one attempt, grpc-timeout passed on reduced by the time spent, stream idle.
import type { ProxyRequest } from '../stack/proxy-request.ts';
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
 * The stream idle timeout of a route: each attempt's response is cut after `idleMs` without a byte (504 idle-timeout, the
 * upstream cancelled). The layer only marks the request; the attempt (proxy/stack/upstream-attempt.ts) watches its own body
 * through the deadline queue it already uses, so a response gets no wrapper, promise hop, timer or set entry of its own
 * (the wrapper and a shared interval timer were a third of the policy defaults' cost, bench/layer-cost.ts). Inside the
 * retry layer: per try, and a body the retry's gRPC peek holds is watched as well.
 */
export function streamIdleLayer(idleMs: number): Layer {
  return (inner) => (req) => {
    req.streamIdleMs = idleMs;
    return inner(req);
  };
}
