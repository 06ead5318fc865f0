// Parses the grpc-timeout header ("100m", "5S", ...) into milliseconds, clamped to what a timer can hold.
/** setTimeout fires at once for delays above 2^31-1 ms, so absurd timeouts are clamped to this. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Milliseconds per unit, by the unit letter's character code. */
function unitMs(c: number): number {
  switch (c) {
    case 0x48 /* H */:
      return 3_600_000;
    case 0x4d /* M */:
      return 60_000;
    case 0x53 /* S */:
      return 1_000;
    case 0x6d /* m */:
      return 1;
    case 0x75 /* u */:
      return 0.001;
    case 0x6e /* n */:
      return 0.000001;
    default:
      return 0;
  }
}

/**
 * Returns the timeout in ms, or null when the header is absent or malformed (malformed is ignored, as gRPC servers do):
 * 1 to 8 ASCII digits and a unit (gRPC's HTTP/2 protocol). Read by hand: every gRPC call carries one, and a regex match
 * made an array and two strings per call.
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | null {
  if (typeof value !== 'string') return null;
  const n = value.length - 1;
  if (n < 1 || n > 8) return null;
  const unit = unitMs(value.charCodeAt(n));
  if (unit === 0) return null;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return null;
    v = v * 10 + d;
  }
  return Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(v * unit)));
}
