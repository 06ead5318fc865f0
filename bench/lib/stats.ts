// Small statistics helpers for repeated benchmark runs.

/** Median of the non-null values; null when there are none. */
export function median(values: readonly (number | null | undefined)[]): number | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Rounds to a number of decimals, keeping null. */
export function round(x: number | null | undefined, decimals = 3): number | null {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}

/**
 * The median of a[i] / b[i]: for variants measured back to back in each round, a ratio within the round cancels the
 * machine's drift that falls on both of its windows (one 5 s window on a shared VM moves by 10-20 %), which a ratio of
 * the two medians does not.
 */
export function medianOfRatios(a: readonly number[], b: readonly number[]): number | null {
  return median(a.map((x, i) => x / b[i]!));
}
