// Deadlines on the way down: grpc-timeout passed on reduced by the time already spent, and the per-try deadline of one attempt.
import type { ProxyRequest } from '../stack/proxy-request.ts';

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
