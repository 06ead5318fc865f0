// The proxy's Prometheus metrics (served on the admin listener); label children are cached so the hot path only increments.
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

// prom-client's index loads every default collector, and through the CPU one @opentelemetry/api (44 modules): with the
// per-GC histogram's observer that cost the proxy ~7 MB RSS. So only the classes and collectors used here are loaded.
const requireLib = createRequire(import.meta.url);
const Registry = requireLib('prom-client/lib/registry') as typeof Prom.Registry;
const Counter = requireLib('prom-client/lib/counter') as typeof Prom.Counter;
const Gauge = requireLib('prom-client/lib/gauge') as typeof Prom.Gauge;
const Histogram = requireLib('prom-client/lib/histogram') as typeof Prom.Histogram;
type Counter<L extends string = string> = Prom.Counter<L>;
type Gauge<L extends string = string> = Prom.Gauge<L>;
type Histogram<L extends string = string> = Prom.Histogram<L>;
type Registry = Prom.Registry;

/** prom-client's default process and Node collectors, by file, minus processCpuTotal (replaced below) and gc (dropped). */
const DEFAULT_COLLECTORS = [
  'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors', 'eventLoopLag',
  'processResources', 'processHandles', 'processRequests', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version',
] as const;
export const PROCESS_METRIC_PREFIX = 'skein_proxy_';

/**
 * The metrics prom-client's default collectors export (same names, help and values) except the per-GC duration
 * histogram, whose observer runs on every garbage collection: process CPU, memory, file descriptors, event-loop lag,
 * heap, handles, Node version.
 */
function collectProcessMetrics(registry: Registry): void {
  // Event-loop lag sampled every 100 ms, not prom-client's default 10 ms: 100 timer wake-ups a second cost an idle
  // sidecar ~0.01 core, a tenth of its CPU budget at 1000 req/s (measured with bench/profile.ts --qps).
  const config = { prefix: PROCESS_METRIC_PREFIX, eventLoopMonitoringPrecision: 100 };
  for (const name of DEFAULT_COLLECTORS) {
    (requireLib(`prom-client/lib/metrics/${name}`) as (r: Registry, c: typeof config) => void)(registry, config);
  }
  // processCpuTotal without its OpenTelemetry exemplar support (the only reason it loads @opentelemetry/api).
  let last = process.cpuUsage();
  const user = new Counter({
    name: `${PROCESS_METRIC_PREFIX}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    // One collect sets all three, as prom-client's collector does.
    collect() {
      const now = process.cpuUsage();
      const u = (now.user - last.user) / 1e6;
      const s = (now.system - last.system) / 1e6;
      last = now;
      user.inc(u);
      system.inc(s);
      total.inc(u + s);
    },
  });
  const system = new Counter({ name: `${PROCESS_METRIC_PREFIX}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers: [registry] });
  const total = new Counter({ name: `${PROCESS_METRIC_PREFIX}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers: [registry] });
}

const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface RequestRecorder {
  /** Records one finished request. `seconds` is the whole request latency as seen by the proxy. */
  record(code: number, seconds: number): void;
}

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'listener' | 'direction' | 'route' | 'cluster' | 'code'>;
  readonly #latency: Histogram<'listener' | 'direction' | 'route' | 'cluster' | 'code'>;
  readonly #errors: Counter<'listener' | 'cause'>;
  readonly #tcp: Counter<'listener' | 'cluster'>;
  readonly #activeConnections: Gauge<'listener' | 'protocol'>;
  readonly #configInfo: Gauge<'version'>;
  readonly #configRejected: Counter;
  readonly #recorders = new Map<string, RequestRecorder>();

  constructor() {
    collectProcessMetrics(this.registry);
    this.#requests = new Counter({
      name: 'skein_requests_total',
      help: 'HTTP and gRPC requests handled, by listener, route, upstream cluster and response code.',
      labelNames: ['listener', 'direction', 'route', 'cluster', 'code'],
      registers: [this.registry],
    });
    this.#latency = new Histogram({
      name: 'skein_request_duration_seconds',
      help: 'Time from the request arriving to the response completing.',
      labelNames: ['listener', 'direction', 'route', 'cluster', 'code'],
      buckets: LATENCY_BUCKETS_S,
      registers: [this.registry],
    });
    this.#errors = new Counter({
      name: 'skein_proxy_errors_total',
      help: 'Requests the proxy answered itself because something failed, by cause (the x-skein-error value).',
      labelNames: ['listener', 'cause'],
      registers: [this.registry],
    });
    this.#tcp = new Counter({
      name: 'skein_tcp_connections_total',
      help: 'Opaque TCP connections forwarded.',
      labelNames: ['listener', 'cluster'],
      registers: [this.registry],
    });
    this.#activeConnections = new Gauge({
      name: 'skein_downstream_connections_active',
      help: 'Open downstream connections by listener and detected protocol.',
      labelNames: ['listener', 'protocol'],
      registers: [this.registry],
    });
    this.#configInfo = new Gauge({
      name: 'skein_config_info',
      help: 'The config version this proxy serves (value is always 1).',
      labelNames: ['version'],
      registers: [this.registry],
    });
    this.#configRejected = new Counter({
      name: 'skein_config_rejected_total',
      help: 'Config updates rejected as invalid (the last good config kept serving).',
      registers: [this.registry],
    });
  }

  /** A recorder for one (listener, route, cluster); reuse it for every request on that route. */
  recorder(listener: string, direction: string, route: string, cluster: string): RequestRecorder {
    const key = `${listener}\u0000${route}\u0000${cluster}`;
    let r = this.#recorders.get(key);
    if (!r) {
      const byCode = new Map<number, { c: { inc(): void }; h: { observe(v: number): void } }>();
      const requests = this.#requests;
      const latency = this.#latency;
      r = {
        record(code: number, seconds: number): void {
          let child = byCode.get(code);
          if (!child) {
            const labels = { listener, direction, route, cluster, code: String(code) };
            child = { c: requests.labels(labels), h: latency.labels(labels) };
            byCode.set(code, child);
          }
          child.c.inc();
          child.h.observe(seconds);
        },
      };
      this.#recorders.set(key, r);
    }
    return r;
  }

  proxyError(listener: string, cause: string): void {
    this.#errors.inc({ listener, cause });
  }

  tcpConnection(listener: string, cluster: string): void {
    this.#tcp.inc({ listener, cluster });
  }

  connectionOpened(listener: string, protocol: string): void {
    this.#activeConnections.inc({ listener, protocol });
  }

  connectionClosed(listener: string, protocol: string): void {
    this.#activeConnections.dec({ listener, protocol });
  }

  configApplied(version: string): void {
    this.#configInfo.reset();
    this.#configInfo.set({ version }, 1);
  }

  configRejected(): void {
    this.#configRejected.inc();
  }
}
