// The local rate limit layer: a token bucket per route (or listener); beyond it 429 / RESOURCE_EXHAUSTED with retry-after.
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { Layer } from '../stack/service.ts';
import type { TokenBucket } from './token-bucket.ts';

// retry-after is whole seconds (RFC 9110 10.2.3); the errors are made once per value, not per refused request.
const REFUSALS = new Map<number, ProxyError>();
function refusal(waitMs: number): ProxyError {
  const s = Math.max(1, Math.ceil(waitMs / 1000));
  let e = REFUSALS.get(s);
  if (e === undefined) {
    e = new ProxyError(ERRORS.rateLimited, undefined, { headers: { 'retry-after': String(s) } });
    if (REFUSALS.size < 1000) REFUSALS.set(s, e);
  }
  return e;
}

export function localRateLimitLayer(bucket: TokenBucket, now: () => number): Layer {
  return (inner) => (req) => {
    const wait = bucket.take(now());
    return wait === 0 ? inner(req) : Promise.reject(refusal(wait));
  };
}
