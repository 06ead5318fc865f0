// The supervisor's answer to a scrape of the ingress's shared admin port: every worker's metrics combined into the whole
// proxy's, as prom-client's cluster mode combines them, with a deadline and without counters ever going down.
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import { SCRAPE_TIMEOUT_MS, type MetricsCollect, type MetricsJson } from './worker-messages.ts';

const requireLib = createRequire(import.meta.url);
// The classes alone (prom-client's index loads every default collector; see telemetry/proxy-metrics.ts).
const Registry = requireLib('prom-client/lib/registry') as typeof Prom.Registry;
const Counter = requireLib('prom-client/lib/counter') as typeof Prom.Counter;
const Gauge = requireLib('prom-client/lib/gauge') as typeof Prom.Gauge;
const AggregatorRegistry = requireLib('prom-client/lib/cluster') as typeof Prom.AggregatorRegistry;


/**
 * How the gauges whose sum would mean nothing are combined. Everything else follows prom-client's cluster rules: a sum
 * (counters, histograms, and gauges that count things: connections, handles, heap and resident memory), except its own
 * process metrics' rules (event-loop lag averaged, its min and max as such, the Node version of the first worker, the
 * start time left out).
 */
export const AGGREGATION_RULES: Readonly<Record<string, Prom.Aggregator>> = {
  // 1 per config version served; two versions while workers reload at different moments, each 1.
  skein_config_info: 'max',
  // The certificate that expires first is the one to alert on.
  skein_workload_cert_expiry_timestamp_seconds: 'min',
  // Every worker has the same limit; summed it would be a limit no process has.
  skein_proxy_process_max_fds: 'min',
};

type Metric = MetricsJson[number];

/** Counters and histograms only: what may be carried forward for a worker that is late or gone (a gauge would be stale). */
function cumulative(metrics: MetricsJson): MetricsJson {
  // The runtime type is the name ('counter'), whatever prom-client's typings say (an enum).
  return metrics.filter((m) => {
    const type = m.type as unknown as string;
    return (type === 'counter' || type === 'histogram') && (m.aggregator ?? 'sum') === 'sum';
  });
}

/** Sums `metrics` into `acc` (by metric, then by series name and labels), for the counters of exited workers. */
function addInto(acc: Map<string, { meta: Metric; series: Map<string, Metric['values'][number]> }>, metrics: MetricsJson): void {
  for (const m of metrics) {
    let a = acc.get(m.name);
    if (a === undefined) acc.set(m.name, (a = { meta: { ...m, values: [] }, series: new Map() }));
    for (const v of m.values) {
      const key = `${(v as unknown as { metricName?: string }).metricName ?? ''}\u0000${JSON.stringify(Object.entries(v.labels).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))}`;
      const had = a.series.get(key);
      a.series.set(key, { ...v, value: (had?.value ?? 0) + (Number(v.value) || 0) });
    }
  }
}

interface WorkerState {
  readonly slot: number;
  /** Its answer to the last scrape it answered in time (or late). */
  last: MetricsJson | null;
}

interface Scrape {
  readonly waiting: Set<number>;
  readonly got: Map<number, MetricsJson>;
  done(): void;
}

export interface AggregatorDeps {
  /** Sends a message to worker `id`; false when it cannot be sent (the worker is gone). */
  send(id: number, m: MetricsCollect): boolean;
  warn(msg: string, fields: Record<string, unknown>): void;
  readonly timeoutMs?: number;
}

export class MetricsAggregator {
  readonly #deps: AggregatorDeps;
  readonly #workers = new Map<number, WorkerState>();
  readonly #retired = new Map<string, { meta: Metric; series: Map<string, Metric['values'][number]> }>();
  readonly #scrapes = new Map<number, Scrape>();
  #ids = 0;
  readonly #own = new Registry();
  readonly #missed: Prom.Counter;
  /** Per slot: requests completed by the worker in it, as last seen. */
  readonly #perWorker = new Map<number, number>();

  constructor(deps: AggregatorDeps) {
    this.#deps = deps;
    this.#missed = new Counter({
      name: 'skein_ingress_worker_scrape_misses_total',
      help: 'Scrapes a worker did not answer in time; its counters and histograms from its last answer were used, its gauges left out.',
      registers: [this.#own],
    });
    const perWorker = this.#perWorker;
    new Counter({
      name: 'skein_ingress_worker_requests_total',
      help: 'Requests completed by each worker process (skein_requests_total by worker slot; a restarted worker starts again from 0).',
      labelNames: ['worker'],
      registers: [this.#own],
      collect(this: Prom.Counter<'worker'>) {
        this.reset();
        for (const [slot, n] of perWorker) this.inc({ worker: String(slot) }, n);
      },
    });
    const workers = this.#workers;
    new Gauge({
      name: 'skein_ingress_workers',
      help: 'Worker processes running (ready to answer scrapes).',
      registers: [this.#own],
      collect(this: Prom.Gauge) {
        this.set(workers.size);
      },
    });
  }

  /** Worker `id` (node:cluster's id) in `slot` (0..N-1; a restarted worker takes its predecessor's) is ready. */
  workerReady(id: number, slot: number): void {
    this.#workers.set(id, { slot, last: null });
  }

  /** Worker `id` exited: its counters as last seen stay in every later answer, so that sums never go down. */
  workerExited(id: number): void {
    const w = this.#workers.get(id);
    if (w === undefined) return;
    this.#workers.delete(id);
    if (w.last !== null) addInto(this.#retired, cumulative(w.last));
    for (const s of this.#scrapes.values()) {
      s.waiting.delete(id);
      if (s.waiting.size === 0) s.done();
    }
  }

  /** Worker `id`'s answer to collect `scrape` (late answers still refresh what is known of it). */
  collected(id: number, scrape: number, metrics: MetricsJson): void {
    const w = this.#workers.get(id);
    if (w === undefined || !Array.isArray(metrics)) return;
    w.last = metrics;
    const s = this.#scrapes.get(scrape);
    if (s === undefined || !s.waiting.delete(id)) return;
    s.got.set(id, metrics);
    if (s.waiting.size === 0) s.done();
  }

  /** Asks every worker for its metrics and answers with the whole proxy's, by the deadline at the latest. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const id = ++this.#ids;
    const s: Scrape = { waiting: new Set(), got: new Map(), done: () => {} };
    const answered = new Promise<void>((resolve) => (s.done = resolve));
    this.#scrapes.set(id, s);
    for (const wid of this.#workers.keys()) if (this.#deps.send(wid, { type: 'skein:metrics-collect', id })) s.waiting.add(wid);
    let timer: NodeJS.Timeout | undefined;
    if (s.waiting.size > 0) await Promise.race([answered, new Promise<void>((r) => (timer = setTimeout(r, this.#deps.timeoutMs ?? SCRAPE_TIMEOUT_MS)))]);
    clearTimeout(timer);
    this.#scrapes.delete(id);
    const parts: MetricsJson[] = [];
    for (const [wid, w] of this.#workers) {
      const fresh = s.got.get(wid);
      let part: MetricsJson | null = fresh ?? null;
      if (fresh === undefined) {
        this.#missed.inc();
        this.#deps.warn('a worker did not answer the metrics scrape in time; its last counters were used', { worker: w.slot, timeoutMs: this.#deps.timeoutMs ?? SCRAPE_TIMEOUT_MS });
        part = w.last === null ? null : cumulative(w.last);
      }
      if (part === null) continue;
      parts.push(part);
      const requests = part.find((m) => m.name === 'skein_requests_total');
      this.#perWorker.set(w.slot, requests?.values.reduce((n, v) => n + (Number(v.value) || 0), 0) ?? 0);
    }
    const retired: MetricsJson = [...this.#retired.values()].map((a) => ({ ...a.meta, values: [...a.series.values()] }));
    parts.push(retired, await this.#own.getMetricsAsJSON());
    const ruled = parts.map((p) => p.map((m) => (AGGREGATION_RULES[m.name] !== undefined ? { ...m, aggregator: AGGREGATION_RULES[m.name]! } : m)));
    const registry = AggregatorRegistry.aggregate(ruled);
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
}
