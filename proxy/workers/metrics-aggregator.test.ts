import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MetricsAggregator } from './metrics-aggregator.ts';
import { SCRAPE_TIMEOUT_MS, type MetricsCollect } from './worker-messages.ts';

const requireLib = createRequire(import.meta.url);
const Registry = requireLib('prom-client/lib/registry') as typeof Prom.Registry;
const Counter = requireLib('prom-client/lib/counter') as typeof Prom.Counter;
const Gauge = requireLib('prom-client/lib/gauge') as typeof Prom.Gauge;
const Histogram = requireLib('prom-client/lib/histogram') as typeof Prom.Histogram;

/** A worker's registry with the kinds of metrics the proxy has. */
function workerRegistry(requests: number, connections: number, version: string, latencies: number[]) {
  const registry = new Registry();
  const registers = [registry];
  new Counter({ name: 'skein_requests_total', help: 'r', labelNames: ['route'], registers }).inc({ route: 'a' }, requests);
  new Gauge({ name: 'skein_downstream_connections_active', help: 'c', registers }).set(connections);
  new Gauge({ name: 'skein_config_info', help: 'v', labelNames: ['version'], registers }).set({ version }, 1);
  const h = new Histogram({ name: 'skein_request_duration_seconds', help: 'd', buckets: [0.1, 1], registers });
  for (const l of latencies) h.observe(l);
  return registry;
}

/** The value of one series in Prometheus text (undefined when absent). */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function rig(registries: Map<number, Prom.Registry>) {
  const warnings: string[] = [];
  /** Workers that answer (the others are stuck). */
  const answering = new Set(registries.keys());
  const agg: MetricsAggregator = new MetricsAggregator({
    send: (id, m: MetricsCollect) => {
      const r = registries.get(id);
      if (r === undefined) return false;
      if (answering.has(id)) void r.getMetricsAsJSON().then((json) => agg.collected(id, m.id, json));
      return true;
    },
    warn: (msg) => void warnings.push(msg),
  });
  let slot = 0;
  for (const id of registries.keys()) agg.workerReady(id, slot++);
  return { agg, warnings, answering };
}

describe('metrics aggregator (one scrape of the ingress = the whole proxy)', () => {
  afterEach(() => vi.useRealTimers());

  it('sums counters, histograms and counting gauges over the workers; the config version is 1 per version; a series per worker', async () => {
    const { agg } = rig(
      new Map([
        [11, workerRegistry(3, 2, 'v1', [0.05, 0.5])],
        [12, workerRegistry(4, 5, 'v1', [2])],
      ]),
    );
    const text = (await agg.scrape()).body;
    expect(value(text, 'skein_requests_total{route="a"}')).toBe(7);
    expect(value(text, 'skein_downstream_connections_active')).toBe(7);
    expect(value(text, 'skein_config_info{version="v1"}')).toBe(1);
    expect(value(text, 'skein_request_duration_seconds_bucket{le="0.1"}')).toBe(1);
    expect(value(text, 'skein_request_duration_seconds_bucket{le="1"}')).toBe(2);
    expect(value(text, 'skein_request_duration_seconds_count')).toBe(3);
    expect(value(text, 'skein_ingress_worker_requests_total{worker="0"}')).toBe(3);
    expect(value(text, 'skein_ingress_worker_requests_total{worker="1"}')).toBe(4);
    expect(value(text, 'skein_ingress_workers')).toBe(2);
    expect(value(text, 'skein_ingress_worker_scrape_misses_total')).toBe(0);
  });

  it('a worker that does not answer in time: the scrape is answered at the deadline with its last counters, no gauges, and the miss counted', async () => {
    vi.useFakeTimers();
    const { agg, warnings, answering } = rig(
      new Map([
        [11, workerRegistry(3, 2, 'v1', [])],
        [12, workerRegistry(4, 5, 'v1', [])],
      ]),
    );
    await agg.scrape(); // both answer: their last answers are known
    answering.delete(12);
    const scrape = agg.scrape();
    await vi.advanceTimersByTimeAsync(SCRAPE_TIMEOUT_MS);
    const text = (await scrape).body;
    expect(value(text, 'skein_requests_total{route="a"}')).toBe(7);
    expect(value(text, 'skein_downstream_connections_active')).toBe(2);
    expect(value(text, 'skein_ingress_worker_scrape_misses_total')).toBe(1);
    expect(warnings).toHaveLength(1);
  });

  it('the counters of a worker that exited stay in the sums (they never go down); its gauges go', async () => {
    const registries = new Map([
      [11, workerRegistry(3, 2, 'v1', [0.05])],
      [12, workerRegistry(4, 5, 'v1', [0.05])],
    ]);
    const { agg, answering } = rig(registries);
    await agg.scrape();
    agg.workerExited(12);
    registries.delete(12);
    // Its successor in the slot starts from zero.
    registries.set(13, workerRegistry(1, 1, 'v2', []));
    answering.add(13);
    agg.workerReady(13, 1);
    const text = (await agg.scrape()).body;
    expect(value(text, 'skein_requests_total{route="a"}')).toBe(8);
    expect(value(text, 'skein_request_duration_seconds_count')).toBe(2);
    expect(value(text, 'skein_downstream_connections_active')).toBe(3);
    expect(value(text, 'skein_config_info{version="v1"}')).toBe(1);
    expect(value(text, 'skein_config_info{version="v2"}')).toBe(1);
    expect(value(text, 'skein_ingress_worker_requests_total{worker="1"}')).toBe(1);
  });
});

describe('docs/metrics.md', () => {
  it('documents the series only an ingress with workers has', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const md = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
    const { agg } = rig(new Map([[1, workerRegistry(1, 1, 'v1', [])]]));
    const names = new Set((await agg.scrape()).body.split('\n').filter((l) => l.startsWith('# TYPE skein_ingress_')).map((l) => l.split(' ')[2]!));
    expect(names.size).toBe(3);
    expect([...names].filter((n) => !md.includes(`\`${n}\``))).toEqual([]);
    expect(md).toContain('`skein_rate_limit_lease_timeouts_total`');
  });
});
