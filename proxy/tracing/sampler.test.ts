// Sampling: an incoming decision is honoured either way; new traces at the configured percentage.
import { describe, expect, it } from 'vitest';
import { shouldSample } from './sampler.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('shouldSample', () => {
  it('honours the caller\'s decision whatever the rate', () => {
    expect(shouldSample(true, 0, () => 0.99)).toBe(true);
    expect(shouldSample(false, 100, () => 0)).toBe(false);
  });

  it('samples nothing at 0 % and everything at 100 %', () => {
    expect(shouldSample(null, 0, () => 0)).toBe(false);
    expect(shouldSample(null, 100, () => 0.999999)).toBe(true);
  });

  it('samples about the configured share of new traces (1 % and 25 % over 100 000 draws)', () => {
    for (const percent of [1, 25]) {
      const random = seeded(percent);
      let n = 0;
      for (let i = 0; i < 100_000; i++) if (shouldSample(null, percent, random)) n++;
      expect(n / 1000).toBeGreaterThan(percent * 0.9);
      expect(n / 1000).toBeLessThan(percent * 1.1);
    }
  });
});
