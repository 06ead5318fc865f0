// The Lease elector against an in-memory store with resourceVersions, on fake timers: one leader among replicas, a
// take-over only after a whole lease duration without renewal, a quick hand-over on release, a step-down when renewals fail.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaseElector, type LeaseRecord, type LeaseStore } from './lease-elector.ts';

class MemoryLeaseStore implements LeaseStore {
  record: LeaseRecord | null = null;
  #rv = 0;
  failing = false;
  async get(): Promise<LeaseRecord | null> {
    if (this.failing) throw new Error('connect ECONNREFUSED');
    return this.record;
  }
  async create(r: LeaseRecord): Promise<LeaseRecord | 'conflict'> {
    if (this.failing) throw new Error('connect ECONNREFUSED');
    if (this.record) return 'conflict';
    return (this.record = { ...r, version: String(++this.#rv) });
  }
  async update(r: LeaseRecord): Promise<LeaseRecord | 'conflict'> {
    if (this.failing) throw new Error('connect ECONNREFUSED');
    if (!this.record || r.version !== this.record.version) return 'conflict';
    return (this.record = { ...r, version: String(++this.#rv) });
  }
}

function replica(store: LeaseStore, identity: string) {
  const events: string[] = [];
  const e = new LeaseElector({
    store,
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    now: () => Date.now(),
    onStartedLeading: () => events.push('start'),
    onStoppedLeading: () => events.push('stop'),
  });
  return { e, events };
}

describe('LeaseElector', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('exactly one of two replicas leads, and keeps leading while it renews', async () => {
    const store = new MemoryLeaseStore();
    const a = replica(store, 'cp-a');
    const b = replica(store, 'cp-b');
    a.e.start();
    await vi.advanceTimersByTimeAsync(0);
    b.e.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(a.e.leading).toBe(true);
    expect(b.e.leading).toBe(false);
    expect(a.events).toEqual(['start']);
    expect(b.events).toEqual([]);
    expect(store.record!.holder).toBe('cp-a');
    expect(store.record!.renewTime).toBeGreaterThan(1_000_000 + 55_000);
    expect(b.e.observedHolder).toBe('cp-a');
  });

  it('a leader that vanished (no release) is replaced only after a whole lease duration', async () => {
    const store = new MemoryLeaseStore();
    // cp-a's view of the store: once it "crashes", its calls never complete (a dead process makes no more rounds).
    let crashed = false;
    const hang = new Promise<never>(() => {});
    const viaA: LeaseStore = {
      get: () => (crashed ? hang : store.get()),
      create: (r) => (crashed ? hang : store.create(r)),
      update: (r) => (crashed ? hang : store.update(r)),
    };
    const a = replica(viaA, 'cp-a');
    a.e.start();
    await vi.advanceTimersByTimeAsync(0);
    const b = replica(store, 'cp-b');
    b.e.start();
    await vi.advanceTimersByTimeAsync(1);
    crashed = true;
    const renewTime = store.record!.renewTime;
    await vi.advanceTimersByTimeAsync(14_000);
    expect(b.e.leading).toBe(false);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(b.e.leading).toBe(true);
    expect(store.record!.holder).toBe('cp-b');
    expect(store.record!.transitions).toBe(1);
    expect(store.record!.renewTime).toBeGreaterThan(renewTime);
  });

  it('a leader that stops releases the Lease, and the other replica takes it at its next try', async () => {
    const store = new MemoryLeaseStore();
    const a = replica(store, 'cp-a');
    const b = replica(store, 'cp-b');
    a.e.start();
    await vi.advanceTimersByTimeAsync(0);
    b.e.start();
    await vi.advanceTimersByTimeAsync(5_000);
    await a.e.stop();
    expect(store.record!.holder).toBe('');
    expect(a.events).toEqual(['start', 'stop']);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(b.e.leading).toBe(true);
    expect(b.events).toEqual(['start']);
  });

  it('an API outage makes the leader step down after the renew deadline, and lead again once it can', async () => {
    const store = new MemoryLeaseStore();
    const a = replica(store, 'cp-a');
    a.e.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(a.e.leading).toBe(true);
    store.failing = true;
    await vi.advanceTimersByTimeAsync(9_000);
    expect(a.e.leading).toBe(true);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(a.e.leading).toBe(false);
    store.failing = false;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(a.e.leading).toBe(true);
    expect(a.events).toEqual(['start', 'stop', 'start']);
  });
});
