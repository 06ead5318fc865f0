// Unit tests for the crash-restart backoff, driven by fake timers.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RestartBackoff } from './restart-backoff.ts';

describe('restart backoff', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('doubles up to the cap and resets after a long run', () => {
    const b = new RestartBackoff({ initialMs: 1000, maxMs: 5000, resetAfterMs: 60_000 });
    expect([0, 0, 0, 0, 0].map(() => b.nextDelay(100))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(b.nextDelay(60_000)).toBe(1000);
    expect(b.nextDelay(10)).toBe(2000);
  });

  it('fires the restart only after the delay and can be cancelled', () => {
    vi.useFakeTimers();
    const b = new RestartBackoff({ initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 });
    const fn = vi.fn();
    const first = b.schedule(0, fn);
    expect(first.delayMs).toBe(1000);
    vi.advanceTimersByTime(999);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    const second = b.schedule(0, fn);
    expect(second.delayMs).toBe(2000);
    second.cancel();
    vi.advanceTimersByTime(10_000);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
