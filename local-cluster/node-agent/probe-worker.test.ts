// Unit tests for the probe threshold state machine and its schedule (fake timers).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProbeStateMachine, ProbeWorker, probeTiming } from './probe-worker.ts';

describe('probe state machine', () => {
  it('readiness needs successThreshold passes and failureThreshold misses to flip', () => {
    const m = new ProbeStateMachine('readiness', probeTiming({ successThreshold: 2, failureThreshold: 3 }));
    expect(m.state).toBe('failure');
    expect(m.record(true)).toBe(false);
    expect(m.record(true)).toBe(true);
    expect(m.state).toBe('success');
    expect([m.record(false), m.record(false), m.record(true), m.record(false), m.record(false)]).toEqual([false, false, false, false, false]);
    expect(m.record(false)).toBe(true);
    expect(m.state).toBe('failure');
  });

  it('liveness starts healthy; startup is exhausted after failureThreshold misses', () => {
    const l = new ProbeStateMachine('liveness', probeTiming({ failureThreshold: 1 }));
    expect(l.state).toBe('success');
    expect(l.record(false)).toBe(true);
    const s = new ProbeStateMachine('startup', probeTiming({ failureThreshold: 2 }));
    s.record(false);
    expect(s.exhausted).toBe(false);
    s.record(false);
    expect(s.exhausted).toBe(true);
  });
});

describe('probe worker', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('waits initialDelay, probes each period and reports changes', async () => {
    vi.useFakeTimers();
    const outcomes = [false, true, true, false];
    const check = vi.fn(async () => outcomes.shift() ?? false);
    const changes: string[] = [];
    const w = new ProbeWorker('readiness', probeTiming({ initialDelaySeconds: 5, periodSeconds: 2, failureThreshold: 1 }), check, (s) => changes.push(s));
    w.start();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(check).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(check).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(changes).toEqual(['success']);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(changes).toEqual(['success', 'failure']);
    expect(check).toHaveBeenCalledTimes(4);
    w.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(check).toHaveBeenCalledTimes(4);
  });

  it('a startup probe stops once it succeeded', async () => {
    vi.useFakeTimers();
    const check = vi.fn(async () => true);
    const w = new ProbeWorker('startup', probeTiming({ periodSeconds: 1 }), check, () => {});
    w.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(check).toHaveBeenCalledTimes(1);
    expect(w.state).toBe('success');
  });
});
