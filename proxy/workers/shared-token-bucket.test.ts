import { describe, expect, it } from 'vitest';
import { leaseSize } from './rate-limit-broker.ts';
import { SharedTokenBucket } from './shared-token-bucket.ts';

describe('shared token bucket (the supervisor side of a shared local rate limit)', () => {
  it('grants the need first, then tops the lease up; says when the next token comes once it is empty', () => {
    const b = new SharedTokenBucket(10, 10, 0);
    expect(b.acquire(1, 3, 0, 2, 0)).toEqual({ granted: 5, waitMs: 0 }); // 3 needed + 2 to keep at hand
    expect(b.acquire(2, 1, 0, 2, 0)).toEqual({ granted: 3, waitMs: 0 });
    // Worker 2 used its 3; 2 are left of 10: short, and one token comes per 100 ms.
    expect(b.acquire(2, 4, 0, 2, 0)).toEqual({ granted: 2, waitMs: 100 });
    expect(b.leased).toBe(7);
  });

  it('never lets the workers hold more than the burst, even when they hold tokens while it refills', () => {
    const b = new SharedTokenBucket(1000, 10, 0);
    // Worker 1 takes the whole burst and keeps it (holds 10, uses none).
    expect(b.acquire(1, 10, 0, 0, 0).granted).toBe(10);
    // A second later a refill would be 1000 tokens; the bucket holds what the lease leaves room for: none.
    expect(b.acquire(2, 5, 0, 0, 1000).granted).toBe(0);
    // Worker 1 reports it used 6 (holds 4): room for 6 again, refilled at the rate (1 per ms).
    expect(b.acquire(1, 0, 4, 0, 1001).granted).toBe(0);
    expect(b.acquire(2, 10, 0, 0, 1004).granted).toBe(3);
    expect(b.acquire(2, 10, 3, 0, 1100).granted).toBe(3);
  });

  it('admits at most burst + rate x time over many random interleavings of two workers', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 50; round++) {
      const rps = 1 + Math.floor(random() * 500);
      const burst = 1 + Math.floor(random() * 50);
      const b = new SharedTokenBucket(rps, burst, 0);
      const held = [0, 0, 0];
      let admitted = 0;
      let now = 0;
      for (let step = 0; step < 2000; step++) {
        now += random() * 5;
        const w = 1 + Math.floor(random() * 2);
        const r = random();
        if (r < 0.6 && held[w]! > 0) {
          held[w]!--;
          admitted++;
        } else if (r < 0.9) {
          const g = b.acquire(w, Math.floor(random() * 4), held[w]!, leaseSize(burst, 2), now);
          held[w]! += g.granted;
        } else {
          b.release(w, held[w]!, now);
          held[w] = 0;
        }
      }
      // Whatever is still held could be admitted next: it counts too.
      expect(admitted + held[1]! + held[2]!).toBeLessThanOrEqual(burst + (rps * now) / 1000 + 1e-9);
    }
  });

  it('a worker that reports holding more than it was given does not lift the limit', () => {
    const b = new SharedTokenBucket(1, 4, 0);
    expect(b.acquire(1, 2, 0, 0, 0).granted).toBe(2);
    expect(b.acquire(1, 0, 1000, 0, 0).granted).toBe(0); // claims 1000 held: counted as the 2 it has
    expect(b.leased).toBe(2);
    expect(b.acquire(2, 5, 0, 0, 0).granted).toBe(2);
  });

  it('a dead worker no longer counts against the bucket, which refills at the rate (its tokens are not handed out at once)', () => {
    const b = new SharedTokenBucket(10, 10, 0);
    expect(b.acquire(1, 10, 0, 0, 0).granted).toBe(10);
    b.forget(1, 0);
    expect(b.leased).toBe(0);
    expect(b.acquire(2, 10, 0, 0, 0).granted).toBe(0);
    expect(b.acquire(2, 10, 0, 0, 500).granted).toBe(5);
  });

  it('given back, a lease is at once available to others; a full bucket leased to no one is idle', () => {
    const b = new SharedTokenBucket(1, 10, 0);
    expect(b.acquire(1, 1, 0, 9, 0).granted).toBe(10);
    expect(b.idle(0)).toBe(false);
    b.release(1, 9, 0);
    expect(b.acquire(2, 10, 0, 0, 0).granted).toBe(9);
    b.release(2, 9, 0);
    expect(b.idle(0)).toBe(false); // one token was used: not full yet
    expect(b.idle(1000)).toBe(true);
  });

  it('lease size: a quarter of the burst per worker, 1 to 256', () => {
    expect([leaseSize(1, 2), leaseSize(20, 2), leaseSize(100, 2), leaseSize(100_000, 2), leaseSize(100, 8)]).toEqual([1, 2, 12, 256, 3]);
  });
});
