// The informer keeper: a failure (API server restarting, CRD missing) is retried with growing, jittered delays
// until a list succeeds; callbacks only notify; stop ends the retries.
import type { Informer, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RestartingInformer } from './restarting-informer.ts';

/** Implements the part of client-node's informer interface the keeper uses; start() fails while `failing` > 0. */
class FakeInformer {
  failing = 0;
  starts = 0;
  items: KubernetesObject[] = [];
  handlers = new Map<string, ((x: unknown) => void)[]>();
  on(verb: string, fn: (x: unknown) => void): void {
    this.handlers.set(verb, [...(this.handlers.get(verb) ?? []), fn]);
  }
  off(): void {}
  emit(verb: string, x?: unknown): void {
    for (const f of this.handlers.get(verb) ?? []) f(x);
  }
  async start(): Promise<void> {
    this.starts++;
    if (this.failing > 0) {
      this.failing--;
      // client-node reports a failed list through the error callback and resolves start()
      this.emit('error', new Error('connect ECONNREFUSED'));
    }
  }
  async stop(): Promise<void> {}
  list(): KubernetesObject[] {
    return this.items;
  }
  get(): KubernetesObject | undefined {
    return undefined;
  }
}

describe('RestartingInformer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries a failing start with growing delays and resolves start() once a list succeeded', async () => {
    const fake = new FakeInformer();
    fake.failing = 3;
    let changes = 0;
    const keeper = new RestartingInformer(fake as unknown as Informer<KubernetesObject> & ObjectCache<KubernetesObject>, {
      name: 'services',
      onChange: () => changes++,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: () => 1,
    });
    let started = false;
    void keeper.start().then(() => (started = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.starts).toBe(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(fake.starts).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.starts).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    expect(fake.starts).toBe(3);
    await vi.advanceTimersByTimeAsync(400);
    expect(fake.starts).toBe(4);
    expect(started).toBe(true);
    expect(keeper.restarts).toBe(3);
    expect(keeper.lastError).toBe('connect ECONNREFUSED');
    // a watch that fails later is restarted too, and events only notify
    fake.emit('add', {});
    expect(changes).toBe(2); // synced + add
    fake.emit('error', new Error('watch closed'));
    await vi.advanceTimersByTimeAsync(100);
    expect(fake.starts).toBe(5);
  });

  it('stop ends the retries', async () => {
    const fake = new FakeInformer();
    fake.failing = 100;
    const keeper = new RestartingInformer(fake as unknown as Informer<KubernetesObject> & ObjectCache<KubernetesObject>, { name: 'x', onChange: () => {}, baseDelayMs: 10, random: () => 1 });
    void keeper.start();
    await vi.advanceTimersByTimeAsync(15);
    const before = fake.starts;
    await keeper.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fake.starts).toBe(before);
  });
});
