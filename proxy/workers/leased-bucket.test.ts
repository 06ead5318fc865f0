import { afterEach, describe, expect, it, vi } from 'vitest';
import { ACQUIRE_TIMEOUT_MS, LEASE_TTL_MS, LeaseClient } from './leased-bucket.ts';
import { RateLimitBroker } from './rate-limit-broker.ts';
import type { LeaseAcquire, LeaseRelease } from './worker-messages.ts';

/** Two workers' lease clients and the supervisor's broker, with the IPC channel as queues delivered when the test says. */
function rig(workers = 2) {
  let now = 0;
  const broker = new RateLimitBroker(workers, () => now);
  const toSupervisor: [number, LeaseAcquire | LeaseRelease][] = [];
  const timeouts: number[] = [];
  const clients = Array.from({ length: workers }, (_, i) => {
    const id = i + 1;
    return new LeaseClient({ send: (m) => void toSupervisor.push([id, m]), now: () => now, onTimeout: (_b, n) => void timeouts.push(n) });
  });
  return {
    broker,
    clients,
    toSupervisor,
    timeouts,
    at(t: number) {
      now = t;
    },
    /** Delivers every queued message and the answers (the channel is ordered, as node's IPC is). */
    async deliver(): Promise<number> {
      let n = 0;
      while (toSupervisor.length > 0) {
        const [w, m] = toSupervisor.shift()!;
        n++;
        if (m.type === 'skein:lease-release') broker.release(w, m);
        else {
          const g = broker.acquire(w, m);
          if (g !== null) clients[w - 1]!.granted(g);
        }
        await Promise.resolve();
      }
      return n;
    },
  };
}

const LIMIT = { requestsPerSecond: 0.01, burst: 20 };

/** One request through the layer's logic: 0 admitted, > 0 refused. */
async function request(c: LeaseClient, r: ReturnType<typeof rig>, key = 'route:a'): Promise<number> {
  const b = c.bucket(key, LIMIT);
  const w = b.take(0);
  if (w >= 0) return w;
  const p = b.acquire();
  await r.deliver();
  return p;
}

describe('leased bucket (a worker side of a shared local rate limit)', () => {
  afterEach(() => vi.useRealTimers());

  it('two workers together admit the burst, not twice it', async () => {
    const r = rig();
    let admitted = 0;
    for (let i = 0; i < 100; i++) if ((await request(r.clients[i % 2]!, r)) === 0) admitted++;
    expect(admitted).toBe(20);
  });

  it('most requests take a token at hand: one message per half lease (lease 50 for burst 400 over 2 workers)', async () => {
    const r = rig();
    let messages = 0;
    const b = r.clients[0]!.bucket('route:big', { requestsPerSecond: 1, burst: 400 });
    for (let i = 0; i < 100; i++) {
      const w = b.take(0);
      if (w === -1) {
        const p = b.acquire();
        messages += await r.deliver();
        expect(await p).toBe(0);
      } else {
        expect(w).toBe(0);
        messages += await r.deliver(); // the top-up sent ahead of need, if any
      }
    }
    expect(messages).toBeLessThanOrEqual(5);
  });

  it('once the supervisor said none are left, refusals are local until the next token is due', async () => {
    const r = rig();
    const b = r.clients[0]!.bucket('route:a', LIMIT);
    while ((await request(r.clients[0]!, r)) === 0);
    expect(b.take(0)).toBeGreaterThan(99_000); // 100 s at 0.01/s
    expect(b.take(0)).toBeGreaterThan(99_000);
    expect(r.toSupervisor).toEqual([]);
  });

  it('requests that arrive together wait for one answer, which serves them all when the supervisor has enough', async () => {
    const r = rig();
    const b = r.clients[0]!.bucket('route:a', LIMIT);
    const waits = Array.from({ length: 15 }, () => {
      expect(b.take(0)).toBe(-1);
      return b.acquire();
    });
    expect(r.toSupervisor.length).toBe(1); // one ask, for the first; the others wait for its answer, then ask together
    await r.deliver();
    expect(await Promise.all(waits)).toEqual(Array(15).fill(0));
  });

  it('a lease unused for its lifetime goes back, and the other worker can have it', async () => {
    vi.useFakeTimers();
    const r = rig();
    const a = r.clients[0]!.bucket('route:a', LIMIT);
    const b = r.clients[1]!.bucket('route:a', LIMIT);
    // Worker 1 takes 18 and keeps the 2 left at hand; worker 2 gets none.
    for (let i = 0; i < 18; i++) expect(await request(r.clients[0]!, r)).toBe(0);
    await r.deliver();
    expect(a.held).toBe(2);
    expect(await request(r.clients[1]!, r)).toBeGreaterThan(0);
    r.at(LEASE_TTL_MS);
    vi.advanceTimersByTime(LEASE_TTL_MS);
    expect(a.held).toBe(0);
    await r.deliver();
    r.at(150_000); // past worker 2's cached refusal; 1 token refilled, and the 2 given back
    expect(b.take(150_000)).toBe(-1);
    const p = [b.acquire(), b.acquire(), b.acquire(), b.acquire()];
    await r.deliver();
    expect(await Promise.all(p)).toEqual([0, 0, 0, expect.any(Number)]);
  });

  it('a worker that dies holding a lease does not keep it from the others', async () => {
    const r = rig();
    // Worker 1 leases the whole burst (20 requests waiting) and dies before it reports using any.
    const ref = { bucket: `route:a\u00000.01\u000020`, ...LIMIT };
    expect(r.broker.acquire(1, { type: 'skein:lease-acquire', id: 1, ...ref, need: 20, held: 0 })?.granted).toBe(20);
    r.broker.workerExited(1);
    r.at(100_000); // one token's time at 0.01/s: the bucket refills from where the dead worker's lease was
    expect(await request(r.clients[1]!, r)).toBe(0);
    expect(await request(r.clients[1]!, r)).toBeGreaterThan(0);
  });

  it('when the supervisor does not answer in time, the waiting requests pass and the miss is reported', async () => {
    vi.useFakeTimers();
    const r = rig();
    const b = r.clients[0]!.bucket('route:a', LIMIT);
    const p = [b.acquire(), b.acquire()];
    vi.advanceTimersByTime(ACQUIRE_TIMEOUT_MS);
    expect(await Promise.all(p)).toEqual([0, 0]);
    expect(r.timeouts).toEqual([2]);
  });
});
