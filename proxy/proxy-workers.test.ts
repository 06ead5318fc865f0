// The ingress supervisor's bookkeeping (proxy-workers.ts) under every order of worker events, with fake workers and timers.
import { describe, expect, it } from 'vitest';
import { WorkerSupervisor, type SupervisedWorker } from './proxy-workers.ts';

class FakeWorker implements SupervisedWorker {
  readonly signals: string[] = [];
  readonly process = { pid: 1, kill: (s: NodeJS.Signals): boolean => { this.signals.push(s); return true; } };
}

function harness() {
  const workers: FakeWorker[] = [];
  const slots: number[] = [];
  const exits: number[] = [];
  const timers: { fn: () => void; ms: number; cleared: boolean }[] = [];
  let clock = 0;
  const sup = new WorkerSupervisor<FakeWorker>({
    fork: (slot) => { const w = new FakeWorker(); workers.push(w); slots.push(slot); return w; },
    exit: (code) => { exits.push(code); },
    now: () => clock,
    setTimer: (fn, ms) => {
      const t = { fn, ms, cleared: false };
      timers.push(t);
      return t;
    },
    clearTimer: (t) => { (t as { cleared: boolean }).cleared = true; },
  });
  return { sup, workers, slots, exits, timers, advance: (ms: number) => { clock += ms; } };
}

describe('the ingress worker supervisor', () => {
  it('SIGTERM: every worker is told, and the supervisor exits 0 once the last has exited, whatever cluster.workers says', () => {
    const h = harness();
    h.sup.start(2);
    h.advance(10_000);
    h.sup.stop('SIGTERM');
    expect(h.workers.map((w) => w.signals)).toEqual([['SIGTERM'], ['SIGTERM']]);
    h.sup.exited(h.workers[0]!, 0, null);
    expect(h.exits).toEqual([]);
    h.sup.exited(h.workers[1]!, 0, null);
    expect(h.exits).toEqual([0]);
  });

  it('a worker that crashes after its start is restarted after a delay; one that dies at start stops everything with 1', () => {
    const h = harness();
    h.sup.start(2);
    h.advance(10_000);
    h.sup.exited(h.workers[0]!, 1, null);
    expect(h.sup.live).toBe(1);
    expect(h.timers).toHaveLength(1);
    h.timers[0]!.fn();
    expect(h.workers).toHaveLength(3);
    expect(h.sup.live).toBe(2);
    // In the slot of the one it replaces (the per-worker metrics' label).
    expect(h.slots).toEqual([0, 1, 0]);
    // The new worker dies within its start grace: the config or a port, not bad luck.
    h.sup.exited(h.workers[2]!, 1, null);
    expect(h.workers[1]!.signals).toEqual(['SIGTERM']);
    h.sup.exited(h.workers[1]!, 0, null);
    expect(h.exits).toEqual([1]);
  });

  it('a stop while every worker is down awaiting its restart exits at once and cancels the restarts', () => {
    const h = harness();
    h.sup.start(2);
    h.advance(10_000);
    h.sup.exited(h.workers[0]!, null, 'SIGKILL');
    h.sup.exited(h.workers[1]!, null, 'SIGKILL');
    expect(h.sup.live).toBe(0);
    h.sup.stop('SIGTERM');
    expect(h.exits).toEqual([0]);
    expect(h.timers.map((t) => t.cleared)).toEqual([true, true]);
    // A restart timer that fires anyway (already due) forks nothing.
    h.timers[0]!.fn();
    expect(h.workers).toHaveLength(2);
  });

  it('a worker that drains on request (exit 0 by itself) stops the whole proxy', () => {
    const h = harness();
    h.sup.start(3);
    h.advance(10_000);
    h.sup.exited(h.workers[1]!, 0, null);
    expect(h.workers[0]!.signals).toEqual(['SIGTERM']);
    expect(h.workers[2]!.signals).toEqual(['SIGTERM']);
    h.sup.exited(h.workers[0]!, 0, null);
    h.sup.exited(h.workers[2]!, 0, null);
    expect(h.exits).toEqual([0]);
  });

  it('an exit reported twice (or for a worker it never forked) counts once', () => {
    const h = harness();
    h.sup.start(2);
    h.advance(10_000);
    h.sup.stop('SIGTERM');
    h.sup.exited(h.workers[0]!, 0, null);
    h.sup.exited(h.workers[0]!, 0, null);
    h.sup.exited(new FakeWorker(), 0, null);
    expect(h.exits).toEqual([]);
    h.sup.exited(h.workers[1]!, 0, null);
    expect(h.exits).toEqual([0]);
  });
});
