// Go-style durations as the CRDs write them ("500ms", "2s", "1m30s", "1.5h"): the units TrafficPolicy and the Gateway API use.

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds (rounded to the nearest ms), or null when `text` is not such a duration. */
export function parseGoDuration(text: string): number | null {
  if (text.length === 0 || text.length > 64) return null;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (m === null || m.index !== at) return null;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return Number.isFinite(total) ? Math.round(total) : null;
}
