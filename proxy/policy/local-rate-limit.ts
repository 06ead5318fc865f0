// The local rate limit layer: a token bucket per route (or listener), in this process or shared by the ingress's workers;
// beyond it 429 / RESOURCE_EXHAUSTED with retry-after.
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { Layer } from '../stack/service.ts';
import type { LocalRateLimitConfig } from '../../api/config/policy-config.ts';
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

/** Buckets shared by the ingress's worker processes, one per key and settings (proxy/workers/leased-bucket.ts). */
export interface SharedBuckets {
  bucket(key: string, config: LocalRateLimitConfig): SharedBucket;
}

/** The bucket of a limit shared by the ingress's worker processes. */
export interface SharedBucket {
  /** 0: a token at hand; > 0: refused, wait this many ms; -1: ask (acquire). */
  take(now: number): number;
  acquire(): Promise<number>;
}

/**
 * The same layer over a bucket shared by the worker processes: a token at hand costs what the local bucket costs; only
 * when none is at hand does the request wait for the supervisor's answer (once per batch of tokens, see leased-bucket.ts).
 */
export function sharedRateLimitLayer(bucket: SharedBucket, now: () => number): Layer {
  return (inner) => (req) => {
    const wait = bucket.take(now());
    if (wait === 0) return inner(req);
    if (wait > 0) return Promise.reject(refusal(wait));
    return bucket.acquire().then((w) => (w === 0 ? inner(req) : Promise.reject(refusal(w))));
  };
}
