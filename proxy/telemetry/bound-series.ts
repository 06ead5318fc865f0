// Series of a prom-client Counter or Histogram whose labels are fixed when they are made: the request path adds to plain
// numbers, and the metric takes them in when it is scraped (no label validation, hashing or string building per request).
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

// prom-client's labelled children (`metric.labels(...)`) validate the 14 label values and build their hash string on every
// inc/observe: about 1.5 % of the proxy's CPU and four strings per request. Their output is kept exactly: the same
// metric objects, names, help and label sets; only when the numbers reach them changes (test: bound-series.test.ts).
const requireLib = createRequire(import.meta.url);
const { hashObject } = requireLib('prom-client/lib/util') as { hashObject(labels: object, names?: readonly string[]): string };

/** What a prom-client histogram keeps per label set (lib/histogram.js `createBaseValues`). */
interface HistogramEntry {
  sum: number;
  count: number;
  readonly bucketValues: Record<number, number>;
}
interface HistogramInternals {
  readonly hashMap: Record<string, HistogramEntry | undefined>;
  readonly sortedLabelNames: readonly string[];
  readonly upperBounds: readonly number[];
}

/** One label set of a Counter. */
export class CounterSeries<L extends string> {
  readonly #counter: Prom.Counter<L>;
  readonly #labels: Partial<Record<L, string>>;
  #value = 0;

  constructor(counter: Prom.Counter<L>, labels: Readonly<Record<L, string>>) {
    this.#counter = counter;
    this.#labels = labels;
  }

  inc(v = 1): void {
    this.#value += v;
  }

  /** At scrape time: what was added since the last scrape goes into the metric. */
  flush(): void {
    const v = this.#value;
    if (v === 0) return;
    this.#value = 0;
    this.#counter.inc(this.#labels, v);
  }
}

/** One label set of a Histogram. */
export class HistogramSeries<L extends string> {
  readonly #histogram: Prom.Histogram<L>;
  readonly #labels: Partial<Record<L, string>>;
  readonly #bounds: readonly number[];
  /** Observations since the last scrape, per bucket (the smallest upper bound at or above the value; none past the last). */
  readonly #buckets: Float64Array;
  #count = 0;
  #sum = 0;

  constructor(histogram: Prom.Histogram<L>, labels: Readonly<Record<L, string>>) {
    this.#histogram = histogram;
    this.#labels = labels;
    this.#bounds = (histogram as unknown as HistogramInternals).upperBounds;
    this.#buckets = new Float64Array(this.#bounds.length);
  }

  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    this.#count++;
    this.#sum += v;
    const b = this.#bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.#buckets[i]!++;
        return;
      }
    }
  }

  /** At scrape time: the observations since the last scrape go into the histogram's entry for these labels. */
  flush(): void {
    if (this.#count === 0) return;
    const h = this.#histogram as unknown as HistogramInternals;
    const hash = hashObject(this.#labels, h.sortedLabelNames);
    let e = h.hashMap[hash];
    if (e === undefined) {
      this.#histogram.zero(this.#labels);
      e = h.hashMap[hash]!;
    }
    e.count += this.#count;
    e.sum += this.#sum;
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      const n = this.#buckets[i]!;
      if (n !== 0) e.bucketValues[bounds[i]!]! += n;
    }
    this.#count = 0;
    this.#sum = 0;
    this.#buckets.fill(0);
  }
}

/** Flushes every series in `list` (a metric's collect hook, which prom-client runs before each scrape). */
export function flushAll(list: readonly { flush(): void }[]): void {
  for (const s of list) s.flush();
}
