// IdleReclaimer: one memory-reducing GC once serving has been quiet after a burst, never during one, at most once per interval.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleReclaimer } from './idle-reclaimer.ts';

describe('IdleReclaimer', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  const make = () => {
    const reclaim = vi.fn();
    return { reclaim, r: new IdleReclaimer({ reclaim, quietMs: 2000, minIntervalMs: 30_000, now: () => Date.now() }) };
  };

  it('reclaims once, after the quiet period that follows the last activity', () => {
    const { reclaim, r } = make();
    for (let i = 0; i < 10; i++) {
      r.activity();
      vi.advanceTimersByTime(1500);
    }
    expect(reclaim).not.toHaveBeenCalled();
    vi.advanceTimersByTime(500);
    expect(reclaim).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60_000);
    expect(reclaim).toHaveBeenCalledTimes(1);
  });

  it('nothing without activity', () => {
    const { reclaim } = make();
    vi.advanceTimersByTime(60_000);
    expect(reclaim).not.toHaveBeenCalled();
  });

  it('a burst soon after a reclaim waits for the interval, then reclaims once', () => {
    const { reclaim, r } = make();
    r.activity();
    vi.advanceTimersByTime(2000);
    expect(reclaim).toHaveBeenCalledTimes(1);
    r.activity();
    vi.advanceTimersByTime(2000);
    expect(reclaim).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(28_000);
    expect(reclaim).toHaveBeenCalledTimes(2);
  });

  it('a reclaim that throws breaks nothing; close() cancels what is pending', () => {
    const r = new IdleReclaimer({ reclaim: () => { throw new Error('no'); }, quietMs: 10 });
    r.activity();
    expect(() => vi.advanceTimersByTime(10)).not.toThrow();
    expect(r.reclaims).toBe(1);
    const { reclaim, r: other } = make();
    other.activity();
    other.close();
    vi.advanceTimersByTime(60_000);
    expect(reclaim).not.toHaveBeenCalled();
  });
});
