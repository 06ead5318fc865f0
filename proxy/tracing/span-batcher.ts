// Batches finished spans for export with a bounded queue: a collector that is down, slow or refusing costs spans (dropped
// and counted), never time or memory on the request path. One export in flight at a time.
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { ExportOutcome, SpanSender } from './otlp-http-sender.ts';

export interface BatcherOptions {
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMs: number;
}

/** What the batcher tells the metrics (plain callbacks: the batcher knows nothing of prom-client). */
export interface BatcherEvents {
  exported(n: number): void;
  dropped(n: number, reason: 'queue_full' | 'export_failed'): void;
  exportFailed(outcome: Exclude<ExportOutcome, 'ok'>): void;
}

export class SpanBatcher {
  readonly #o: BatcherOptions;
  readonly #send: SpanSender;
  readonly #events: BatcherEvents;
  #queue: ReadableSpan[] = [];
  #timer: NodeJS.Timeout | null = null;
  /** The export in flight, or null. */
  #exporting: Promise<void> | null = null;
  #closed = false;

  constructor(o: BatcherOptions, send: SpanSender, events: BatcherEvents) {
    this.#o = o;
    this.#send = send;
    this.#events = events;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Takes a finished span. O(1); drops it (counted) when the queue is full. */
  add(span: ReadableSpan): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#o.maxQueueSize) {
      this.#events.dropped(1, 'queue_full');
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#o.maxExportBatchSize) this.#flushSoon(0);
    else if (this.#timer === null) this.#flushSoon(this.#o.scheduledDelayMs);
  }

  #flushSoon(ms: number): void {
    if (this.#exporting !== null) return; // the running export flushes again when it is done
    if (this.#timer !== null) {
      if (ms !== 0) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(this.#export, ms);
    // Spans waiting never keep a draining proxy alive.
    this.#timer.unref();
  }

  readonly #export = (): void => {
    this.#timer = null;
    if (this.#exporting !== null || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#o.maxExportBatchSize);
    this.#exporting = this.#send(batch)
      .catch((): ExportOutcome => 'error')
      .then((outcome) => {
        this.#exporting = null;
        if (outcome === 'ok') this.#events.exported(batch.length);
        else {
          this.#events.exportFailed(outcome);
          this.#events.dropped(batch.length, 'export_failed');
        }
        if (this.#queue.length >= this.#o.maxExportBatchSize) this.#flushSoon(0);
        else if (this.#queue.length > 0) this.#flushSoon(this.#o.scheduledDelayMs);
      });
  };

  /** Sends what is queued now (tests, shutdown); resolves when that export is done. */
  async flush(): Promise<void> {
    while (this.#exporting !== null) await this.#exporting;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    while (this.#queue.length > 0) {
      this.#export();
      await this.#exporting;
    }
  }

  /** Stops taking spans; what is queued is dropped without counting (the proxy is going away or tracing was reconfigured). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue = [];
  }
}
