// Unit tests for the per-pod serialized work queue.
import { describe, expect, it } from 'vitest';
import { PodWorkQueue } from './pod-work-queue.ts';

describe('pod work queue', () => {
  it('never runs two syncs of one pod at once, coalesces kicks, and runs pods in parallel', async () => {
    const log: string[] = [];
    let concurrentA = 0, maxA = 0;
    const gates: Record<string, () => void> = {};
    const q = new PodWorkQueue(async (k) => {
      if (k === 'a') { concurrentA++; maxA = Math.max(maxA, concurrentA); }
      log.push(`start ${k}`);
      await new Promise<void>((r) => { gates[k] = r; });
      log.push(`end ${k}`);
      if (k === 'a') concurrentA--;
    }, () => {});
    q.kick('a');
    expect(log).toEqual([]); // the caller returns before any work runs
    await Promise.resolve(); await Promise.resolve();
    q.kick('a'); q.kick('a'); q.kick('b');
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['start a', 'start b']);
    gates.a!(); gates.b!();
    await new Promise((r) => setImmediate(r));
    expect(log.filter((l) => l === 'start a')).toHaveLength(2); // three kicks during the run -> one more sync
    gates.a!();
    await q.drain();
    expect(maxA).toBe(1);
  });

  it('reports a failing sync and keeps working', async () => {
    const errors: string[] = [];
    let n = 0;
    const q = new PodWorkQueue(async () => { n++; if (n === 1) throw new Error('boom'); }, (k, e) => errors.push(`${k}:${(e as Error).message}`));
    q.kick('x');
    await q.drain();
    q.kick('x');
    await q.drain();
    expect(errors).toEqual(['x:boom']);
    expect(n).toBe(2);
  });
});
