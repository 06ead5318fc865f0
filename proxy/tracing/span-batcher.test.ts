// The export queue: batched, bounded, one export at a time; a collector that hangs or refuses costs dropped spans (counted).
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ExportOutcome } from './otlp-http-sender.ts';
import { SpanBatcher } from './span-batcher.ts';

const span = (i: number) => ({ name: `s${i}` }) as unknown as ReadableSpan;

function counters() {
  const c = { exported: 0, queue_full: 0, export_failed: 0, failures: [] as string[] };
  return {
    c,
    events: {
      exported: (n: number) => void (c.exported += n),
      dropped: (n: number, reason: 'queue_full' | 'export_failed') => void (c[reason] += n),
      exportFailed: (o: string) => void c.failures.push(o),
    },
  };
}

describe('SpanBatcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends a batch after the scheduled delay, or at once when a batch is full', async () => {
    const sent: number[] = [];
    const { c, events } = counters();
    const b = new SpanBatcher({ maxQueueSize: 100, maxExportBatchSize: 10, scheduledDelayMs: 1000 }, async (s) => (sent.push(s.length), 'ok'), events);
    for (let i = 0; i < 3; i++) b.add(span(i));
    await vi.advanceTimersByTimeAsync(999);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([3]);
    for (let i = 0; i < 25; i++) b.add(span(i));
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([3, 10, 10]);
    // The last 5 wait for the scheduled delay from when the previous export finished.
    await vi.advanceTimersByTimeAsync(998);
    expect(sent).toEqual([3, 10, 10]);
    await vi.advanceTimersByTimeAsync(2);
    expect(sent).toEqual([3, 10, 10, 5]);
    expect(c.exported).toBe(28);
  });

  it('with a collector that hangs: one export in flight, the queue stays bounded, the overflow is dropped and counted', async () => {
    const { c, events } = counters();
    let calls = 0;
    let release!: (o: ExportOutcome) => void;
    const b = new SpanBatcher({ maxQueueSize: 50, maxExportBatchSize: 10, scheduledDelayMs: 100 }, () => (calls++, new Promise((r) => (release = r))), events);
    for (let i = 0; i < 1000; i++) b.add(span(i));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(1);
    // The queue filled to 50 and dropped the rest; 10 left it for the hung export.
    expect(c.queue_full).toBe(950);
    expect(b.queued).toBe(40);
    for (let i = 0; i < 20; i++) b.add(span(i));
    expect(b.queued).toBe(50);
    expect(c.queue_full).toBe(960);
    release('timeout');
    await vi.advanceTimersByTimeAsync(0);
    expect(c.failures).toEqual(['timeout']);
    expect(c.export_failed).toBe(10);
    expect(calls).toBe(2);
  });

  it('counts a refused export as dropped spans and keeps going', async () => {
    const { c, events } = counters();
    const b = new SpanBatcher({ maxQueueSize: 100, maxExportBatchSize: 5, scheduledDelayMs: 10 }, async () => 'refused', events);
    for (let i = 0; i < 12; i++) b.add(span(i));
    await vi.advanceTimersByTimeAsync(100);
    expect(c.export_failed).toBe(12);
    expect(c.failures).toEqual(['refused', 'refused', 'refused']);
    expect(c.exported).toBe(0);
  });

  it('a sender that rejects (it must not, but) is an export failure, not an unhandled rejection', async () => {
    const { c, events } = counters();
    const b = new SpanBatcher({ maxQueueSize: 10, maxExportBatchSize: 5, scheduledDelayMs: 10 }, () => Promise.reject(new Error('boom')), events);
    b.add(span(1));
    await vi.advanceTimersByTimeAsync(10);
    expect(c.failures).toEqual(['error']);
  });

  it('flush sends everything queued; close drops the rest and takes nothing more', async () => {
    const sent: number[] = [];
    const { events } = counters();
    const b = new SpanBatcher({ maxQueueSize: 100, maxExportBatchSize: 4, scheduledDelayMs: 60_000 }, async (s) => (sent.push(s.length), 'ok'), events);
    for (let i = 0; i < 9; i++) b.add(span(i));
    await vi.advanceTimersByTimeAsync(0);
    await b.flush();
    expect(sent.reduce((a, n) => a + n, 0)).toBe(9);
    b.close();
    b.add(span(99));
    expect(b.queued).toBe(0);
  });
});
