// Exponential backoff with full jitter (as Envoy and the AWS architecture blog describe it): spreads retries of many clients apart.
import type { RetryBackoffConfig } from '../../api/config/policy-config.ts';

/**
 * The wait before retry `n` (1 = the first retry): uniform in [0, min(max, base x 2^(n-1))), or from the floor
 * `minIntervalMs` up to that ceiling (at least the floor). `random` is in [0, 1).
 */
export function backoffMs(n: number, config: RetryBackoffConfig, random: () => number): number {
  const floor = config.minIntervalMs ?? 0;
  const ceiling = Math.max(floor, Math.min(config.maxIntervalMs, config.baseIntervalMs * 2 ** Math.min(30, Math.max(0, n - 1))));
  return floor + Math.floor(random() * (ceiling - floor));
}
