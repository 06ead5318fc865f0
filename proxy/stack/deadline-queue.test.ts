// The attempts' deadline queue: each entry times out at its deadline, in order, never early; removed entries never do;
// one timer serves them all, moved only by an earlier deadline.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue, type Deadlined } from './deadline-queue.ts';

afterEach(() => vi.useRealTimers());

function entries(fired: string[], deadlines: Record<string, number>): Record<string, Deadlined> {
  return Object.fromEntries(Object.entries(deadlines).map(([name, deadlineAt]) => [name, { deadlineAt, heapIndex: -1, timedOut: () => void fired.push(name) }]));
}

describe('deadline queue', () => {
  it('times each entry out at its deadline, in deadline order, and never one that was removed', async () => {
    vi.useFakeTimers({ now: 0 });
    const q = new DeadlineQueue(() => Date.now());
    const fired: string[] = [];
    const e = entries(fired, { a: 300, b: 100, c: 200, d: 150, x: 120 });
    for (const k of ['a', 'b', 'c', 'd', 'x']) q.add(e[k]!);
    expect(vi.getTimerCount()).toBe(1);
    q.remove(e.x!);
    q.remove(e.x!);
    await vi.advanceTimersByTimeAsync(99);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired).toEqual(['b']);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toEqual(['b', 'd', 'c']);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toEqual(['b', 'd', 'c', 'a']);
    expect(q.size).toBe(0);
    expect(e.a!.heapIndex).toBe(-1);
  });

  it('moves its one timer to an earlier deadline, and keeps order through many adds and removes', async () => {
    vi.useFakeTimers({ now: 0 });
    const q = new DeadlineQueue(() => Date.now());
    const fired: string[] = [];
    const late = entries(fired, { late: 1000 }).late!;
    q.add(late);
    const early = entries(fired, { early: 10 }).early!;
    q.add(early);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(fired).toEqual(['early']);
    // A shuffled batch, half of it removed: what remains fires sorted by deadline.
    const batch = Array.from({ length: 200 }, (_, i) => ({ deadlineAt: 20 + ((i * 7919) % 500), heapIndex: -1, timedOut: () => void fired.push(String(i)) }));
    for (const b of batch) q.add(b);
    for (const b of batch.filter((_, i) => i % 2 === 0)) q.remove(b);
    await vi.advanceTimersByTimeAsync(2000);
    const kept = batch.map((b, i) => [b.deadlineAt, i] as const).filter(([, i]) => i % 2 === 1);
    const order = fired.slice(1, -1).map(Number);
    expect(order.map((i) => batch[i]!.deadlineAt)).toEqual(kept.map(([d]) => d).sort((a, b) => a - b));
    expect(fired.at(-1)).toBe('late');
  });

  it('an entry that re-queues itself when it fires (a stream idle check) does not delay one due before it', async () => {
    vi.useFakeTimers({ now: 0 });
    const q = new DeadlineQueue(() => Date.now());
    const fired: string[] = [];
    const e = entries(fired, { idle: 100, other: 200 });
    e.idle!.timedOut = () => {
      fired.push(`idle@${Date.now()}`);
      if (Date.now() < 300) q.add(Object.assign(e.idle!, { deadlineAt: 300 }));
    };
    q.add(e.idle!);
    q.add(e.other!);
    await vi.advanceTimersByTimeAsync(200);
    expect(fired).toEqual(['idle@100', 'other']);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toEqual(['idle@100', 'other', 'idle@300']);
    expect(q.size).toBe(0);
  });
});
