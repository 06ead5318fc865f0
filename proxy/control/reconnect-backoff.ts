// Delay before the proxy's next attempt to reach the control plane: exponential with full jitter, so that a thousand
// proxies that lost the control plane together do not come back together.

export interface BackoffOptions {
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000 };

/** attempt 0 is the first retry; random() in [0, 1). Never below 10% of the ceiling, so a retry is never a busy loop. */
export function reconnectDelayMs(attempt: number, random: () => number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.1 + 0.9 * random()));
}
