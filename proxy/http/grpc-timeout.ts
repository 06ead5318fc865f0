// Parses the grpc-timeout header ("100m", "5S", ...) into milliseconds, clamped to what a timer can hold.
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000001 };
/** setTimeout fires at once for delays above 2^31-1 ms, so absurd timeouts are clamped to this. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Returns the timeout in ms, or null when the header is absent or malformed (malformed is ignored, as gRPC servers do). */
export function parseGrpcTimeout(value: string | string[] | undefined): number | null {
  if (typeof value !== 'string') return null;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(ms)));
}
