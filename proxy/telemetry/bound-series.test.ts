// Series bound to a label set print exactly what prom-client's own labelled children print for the same observations.
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterSeries, flushAll, HistogramSeries } from './bound-series.ts';

const LABELS = ['route', 'code'] as const;
type L = (typeof LABELS)[number];
const BUCKETS = [0.001, 0.01, 0.1, 1];

/** Values on bucket bounds, between them, past the last one, and zero. */
const VALUES = [0, 0.001, 0.0005, 0.05, 0.1, 0.7, 1, 3, 42];

function registries() {
  const reference = new Registry();
  const refCounter = new Counter({ name: 'c_total', help: 'c', labelNames: LABELS, registers: [reference] });
  const refHistogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: LABELS, buckets: BUCKETS, registers: [reference] });
  const bound = new Registry();
  const counters: CounterSeries<L>[] = [];
  const histograms: HistogramSeries<L>[] = [];
  const counter = new Counter({ name: 'c_total', help: 'c', labelNames: LABELS, registers: [bound], collect: () => flushAll(counters) });
  const histogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: LABELS, buckets: BUCKETS, registers: [bound], collect: () => flushAll(histograms) });
  return { reference, refCounter, refHistogram, bound, counters, histograms, counter, histogram };
}

describe('bound series', () => {
  it('print the same exposition as prom-client labelled children, across several scrapes', async () => {
    const r = registries();
    const sets: Record<L, string>[] = [
      { route: 'a', code: '200' },
      { route: 'b', code: '503' },
    ];
    const series = sets.map((labels) => {
      const c = new CounterSeries(r.counter, labels);
      const h = new HistogramSeries(r.histogram, labels);
      r.counters.push(c);
      r.histograms.push(h);
      return { labels, c, h, refC: r.refCounter.labels(labels), refH: r.refHistogram.labels(labels) };
    });
    for (let round = 0; round < 3; round++) {
      for (const [i, s] of series.entries()) {
        for (const v of VALUES.slice(i + round)) {
          s.h.observe(v);
          s.refH.observe(v);
          s.c.inc();
          s.refC.inc();
        }
        s.c.inc(5);
        s.refC.inc(5);
      }
      // Every scrape sees all observations so far (the bound ones are taken in by the metrics' collect hooks).
      expect(await r.bound.metrics()).toBe(await r.reference.metrics());
      expect(await r.bound.getMetricsAsJSON()).toEqual(await r.reference.getMetricsAsJSON());
    }
  });

  it('keep counting after the registry is reset', async () => {
    const r = registries();
    const labels = { route: 'a', code: '200' };
    const c = new CounterSeries(r.counter, labels);
    const h = new HistogramSeries(r.histogram, labels);
    r.counters.push(c);
    r.histograms.push(h);
    c.inc();
    h.observe(0.5);
    await r.bound.metrics();
    r.bound.resetMetrics();
    c.inc(2);
    h.observe(2);
    const text = await r.bound.metrics();
    expect(text).toContain('c_total{route="a",code="200"} 2');
    expect(text).toContain('h_seconds_count{route="a",code="200"} 1');
    expect(text).toContain('h_seconds_bucket{le="1",route="a",code="200"} 0');
    expect(text).toContain('h_seconds_bucket{le="+Inf",route="a",code="200"} 1');
  });
});
