// The push debouncer: a burst becomes one flush with the union of keys, bounded by the max delay.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Debouncer } from './debouncer.ts';

describe('Debouncer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires once, quietMs after the last change, with the union of the keys', () => {
    const flushes: (ReadonlySet<string> | 'all')[] = [];
    const d = new Debouncer<string>({ quietMs: 100, maxDelayMs: 1000 }, (k) => flushes.push(k));
    d.add(['a']);
    vi.advanceTimersByTime(60);
    d.add(['b']);
    vi.advanceTimersByTime(99);
    expect(flushes).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(flushes).toEqual([new Set(['a', 'b'])]);
    vi.advanceTimersByTime(5000);
    expect(flushes).toHaveLength(1);
  });

  it('a storm that never goes quiet still flushes at maxDelayMs after its first change', () => {
    const flushes: (ReadonlySet<string> | 'all')[] = [];
    const d = new Debouncer<string>({ quietMs: 100, maxDelayMs: 300 }, (k) => flushes.push(k));
    for (let i = 0; i < 10; i++) {
      d.add([`p${i}`]);
      vi.advanceTimersByTime(50);
    }
    // changes at 0..450 ms: the first flush happened at 300 ms with what had arrived until then
    expect(flushes.length).toBeGreaterThanOrEqual(1);
    expect(flushes[0]).toEqual(new Set(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']));
    vi.advanceTimersByTime(1000);
    const all = new Set(flushes.flatMap((f) => (f === 'all' ? [] : [...f])));
    expect(all.size).toBe(10);
  });

  it('"all" absorbs keys', () => {
    const flushes: (ReadonlySet<string> | 'all')[] = [];
    const d = new Debouncer<string>({ quietMs: 10, maxDelayMs: 100 }, (k) => flushes.push(k));
    d.add(['a']);
    d.add('all');
    d.add(['b']);
    vi.advanceTimersByTime(10);
    expect(flushes).toEqual(['all']);
  });

  it('close drops what is pending', () => {
    const flushes: unknown[] = [];
    const d = new Debouncer<string>({ quietMs: 10, maxDelayMs: 100 }, (k) => flushes.push(k));
    d.add(['a']);
    d.close();
    vi.advanceTimersByTime(1000);
    expect(flushes).toEqual([]);
  });
});
