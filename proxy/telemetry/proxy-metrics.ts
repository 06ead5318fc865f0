// The proxy's Prometheus metrics (served on the admin listener); label children are cached so the hot path only increments.
import { CONFIG_RESOURCE_TYPES } from '../../api/config/config-resources.ts';
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import type { ListenerDirection } from '../../api/config/proxy-config.ts';
import type { WorkloadMetadata } from '../../api/config/telemetry-config.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { GRPC_STATUS_NAMES } from '../../api/config/policy-config-schema.ts';
import { peerLabels, UNKNOWN_PEER, type PeerLabels } from './peer-labels.ts';
import { CounterSeries, flushAll, HistogramSeries } from './bound-series.ts';

/** Bounded values of skein_config_rejected_total's resource_type (anything else counts as `document`). */
const CONFIG_RESOURCE_TYPE_LABELS: ReadonlySet<string> = new Set(CONFIG_RESOURCE_TYPES);

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
/** Body sizes: 0 (no body) then powers of 4 from 64 B to 16 MiB. */
const SIZE_BUCKETS_BYTES = [0, 64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];

/** The labels of every request metric, in the order they are printed. */
export const REQUEST_LABELS = [
  'listener', 'direction', 'route', 'cluster', 'code', 'grpc_status', 'mtls',
  'source_workload', 'source_namespace', 'source_identity',
  'destination_workload', 'destination_namespace', 'destination_identity', 'destination_service',
] as const;
type RequestLabel = (typeof REQUEST_LABELS)[number];
export const TCP_LABELS = [
  'listener', 'direction', 'cluster', 'mtls',
  'source_workload', 'source_namespace', 'source_identity',
  'destination_workload', 'destination_namespace', 'destination_identity', 'destination_service',
] as const;
type TcpLabel = (typeof TCP_LABELS)[number];

/** Where a listener's traffic goes: its name and direction (which end the proxy's own workload is). */
export interface RecorderListener {
  readonly name: string;
  readonly direction: ListenerDirection;
}

export interface RequestRecorder {
  /**
   * Records one finished request. `remote` is the other end (the caller on inbound, the endpoint on outbound and ingress),
   * `grpcStatus` -1 when the request was not gRPC (or no status came), `seconds` the whole request as the proxy saw it.
   * Positional arguments: nothing is allocated per request.
   */
  record(remote: PeerLabels, code: number, grpcStatus: number, mtls: boolean, seconds: number, requestBytes: number, responseBytes: number): void;
}

export interface TcpRecorder {
  /** The listener is inbound: `remote` is the caller. */
  readonly inbound: boolean;
  /** One connection forwarded; tell the returned record the byte counts when it closes. */
  opened(remote: PeerLabels, mtls: boolean): TcpConnectionRecord;
}
export interface TcpConnectionRecord {
  closed(receivedBytes: number, sentBytes: number): void;
}

interface RequestChildren {
  readonly requests: CounterSeries<RequestLabel>;
  readonly duration: HistogramSeries<RequestLabel>;
  readonly requestSize: HistogramSeries<RequestLabel>;
  readonly responseSize: HistogramSeries<RequestLabel>;
}

/**
 * The four request metrics and the series of every label set made so far, one per label set however many recorders
 * (config versions) ask for it; each metric takes its series in when it is scraped.
 */
class RequestMetrics {
  readonly #bySet = new Map<string, RequestChildren>();
  readonly #requests: CounterSeries<RequestLabel>[] = [];
  readonly #latency: HistogramSeries<RequestLabel>[] = [];
  readonly #requestSize: HistogramSeries<RequestLabel>[] = [];
  readonly #responseSize: HistogramSeries<RequestLabel>[] = [];
  readonly requests: Counter<RequestLabel>;
  readonly latency: Histogram<RequestLabel>;
  readonly requestSize: Histogram<RequestLabel>;
  readonly responseSize: Histogram<RequestLabel>;

  constructor(registry: Registry) {
    const labelNames = REQUEST_LABELS;
    const registers = [registry];
    this.requests = new Counter({
      name: 'skein_requests_total',
      help: 'HTTP and gRPC requests completed, by direction, route, response code, gRPC status, mTLS, source and destination workload.',
      labelNames,
      registers,
      collect: () => flushAll(this.#requests),
    });
    this.latency = new Histogram({
      name: 'skein_request_duration_seconds',
      help: 'Time from the request arriving to the response completing.',
      labelNames,
      buckets: LATENCY_BUCKETS_S,
      registers,
      collect: () => flushAll(this.#latency),
    });
    this.requestSize = new Histogram({
      name: 'skein_request_size_bytes',
      help: 'Request body bytes received from the client.',
      labelNames,
      buckets: SIZE_BUCKETS_BYTES,
      registers,
      collect: () => flushAll(this.#requestSize),
    });
    this.responseSize = new Histogram({
      name: 'skein_response_size_bytes',
      help: 'Response body bytes sent to the client.',
      labelNames,
      buckets: SIZE_BUCKETS_BYTES,
      registers,
      collect: () => flushAll(this.#responseSize),
    });
  }

  /** The series of one label set (made once; a recorder keeps them for the label combinations it sees). */
  children(labels: Readonly<Record<RequestLabel, string>>): RequestChildren {
    const key = REQUEST_LABELS.map((l) => labels[l]).join('\u0000');
    let c = this.#bySet.get(key);
    if (c === undefined) {
      c = {
        requests: pushed(this.#requests, new CounterSeries(this.requests, labels)),
        duration: pushed(this.#latency, new HistogramSeries(this.latency, labels)),
        requestSize: pushed(this.#requestSize, new HistogramSeries(this.requestSize, labels)),
        responseSize: pushed(this.#responseSize, new HistogramSeries(this.responseSize, labels)),
      };
      this.#bySet.set(key, c);
    }
    return c;
  }
}

function pushed<T>(list: T[], x: T): T {
  list.push(x);
  return x;
}

/** The `grpc_status` label value: the status name ("" for a request that is not gRPC; out of range is UNKNOWN). */
export function grpcStatusLabel(code: number): string {
  if (code < 0) return '';
  return GRPC_STATUS_NAMES[code] ?? 'UNKNOWN';
}

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly #request: RequestMetrics;
  readonly #errors: Counter<'listener' | 'cause'>;
  readonly #tcpOpened: Counter<TcpLabel>;
  readonly #tcpClosed: Counter<TcpLabel>;
  readonly #tcpReceived: Counter<TcpLabel>;
  readonly #tcpSent: Counter<TcpLabel>;
  readonly #activeConnections: Gauge<'listener' | 'protocol'>;
  readonly #detectTimeouts: Counter<'listener'>;
  readonly #configInfo: Gauge<'version'>;
  readonly #configRejected: Counter;
  readonly #configIgnored: Counter;
  readonly #spansExported: Counter;
  readonly #spansDropped: Counter<'reason'>;
  readonly #exportFailures: Counter<'reason'>;
  readonly #accessLogDropped: Counter;
  readonly #telemetryErrors: Counter<'component'>;
  readonly #recorders = new Map<string, RequestRecorder>();
  readonly #tcpRecorders = new Map<string, TcpRecorder>();
  /** This proxy's own workload (set from config and the pod's environment). */
  #self: PeerLabels = UNKNOWN_PEER;

  constructor() {
    collectProcessMetrics(this.registry);
    // Requests add to plain numbers of their label set (bound-series.ts); each metric takes them in when scraped.
    this.#request = new RequestMetrics(this.registry);
    this.#errors = new Counter({
      name: 'skein_proxy_errors_total',
      help: 'Requests the proxy answered itself because something failed, by cause (the x-skein-error value).',
      labelNames: ['listener', 'cause'],
      registers: [this.registry],
    });
    const tcp = (name: string, help: string): Counter<TcpLabel> => new Counter({ name, help, labelNames: TCP_LABELS, registers: [this.registry] });
    this.#tcpOpened = tcp('skein_tcp_connections_opened_total', 'Opaque TCP connections forwarded (opened toward an endpoint).');
    this.#tcpClosed = tcp('skein_tcp_connections_closed_total', 'Opaque TCP connections that closed.');
    this.#tcpReceived = tcp('skein_tcp_received_bytes_total', 'Bytes received from the client of opaque TCP connections (counted when they close).');
    this.#tcpSent = tcp('skein_tcp_sent_bytes_total', 'Bytes sent to the client of opaque TCP connections (counted when they close).');
    this.#activeConnections = new Gauge({
      name: 'skein_downstream_connections_active',
      help: 'Open downstream connections by listener and detected protocol.',
      labelNames: ['listener', 'protocol'],
      registers: [this.registry],
    });
    this.#detectTimeouts = new Counter({
      name: 'skein_protocol_detect_timeouts_total',
      help: 'Connections that showed no protocol within the detection timeout (forwarded as opaque TCP, or closed where the listener has no TCP path).',
      labelNames: ['listener'],
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
      help: 'Config updates rejected as invalid (the last good config kept serving), by the type of the first resource at fault (document: the whole file did not parse).',
      labelNames: ['resource_type'],
      registers: [this.registry],
    });
    this.#configIgnored = new Counter({
      name: 'skein_config_ignored_total',
      help: 'Resources from the control plane of a type this proxy does not know (a newer control plane), ignored; the rest of each push applied.',
      registers: [this.registry],
    });
    this.#spansExported = new Counter({ name: 'skein_trace_spans_exported_total', help: 'Spans the collector accepted.', registers: [this.registry] });
    this.#spansDropped = new Counter({
      name: 'skein_trace_spans_dropped_total',
      help: 'Spans dropped: queue_full (the export queue was full), export_failed (the collector refused, failed or timed out).',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.#exportFailures = new Counter({
      name: 'skein_trace_export_failures_total',
      help: 'Span exports that failed, by reason (timeout, refused, http-status, error).',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.#accessLogDropped = new Counter({ name: 'skein_access_log_dropped_total', help: 'Access log lines dropped because stdout was backed up.', registers: [this.registry] });
    this.#telemetryErrors = new Counter({
      name: 'skein_telemetry_errors_total',
      help: 'Errors inside telemetry (tracing, access logs), swallowed so that no request fails for them.',
      labelNames: ['component'],
      registers: [this.registry],
    });
  }

  /** What the span batcher reports. */
  readonly traceEvents = {
    exported: (n: number): void => this.#spansExported.inc(n),
    dropped: (n: number, reason: 'queue_full' | 'export_failed'): void => this.#spansDropped.inc({ reason }, n),
    exportFailed: (reason: string): void => this.#exportFailures.inc({ reason }),
  };

  accessLogDropped(): void {
    this.#accessLogDropped.inc();
  }

  telemetryError(component: 'tracing' | 'access-log'): void {
    this.#telemetryErrors.inc({ component });
  }

  /** Sets this proxy's own workload (the source of outbound requests, the destination of inbound ones). */
  setWorkload(w: WorkloadMetadata): void {
    this.#self = peerLabels(w);
  }

  get workload(): PeerLabels {
    return this.#self;
  }

  /**
   * The recorder of one (listener, route, cluster): build it at config time and reuse it for every request on that route.
   * On inbound the proxy's workload is the destination (with the Service from the cluster's metadata); elsewhere the source.
   */
  recorder(listener: RecorderListener, route: string, cluster: UpstreamCluster | null): RequestRecorder {
    const local = this.#local(listener, cluster);
    const key = `${listener.name}\u0000${listener.direction}\u0000${route}\u0000${cluster?.name ?? ''}`;
    const cached = this.#recorders.get(key) as (RequestRecorder & { local: PeerLabels }) | undefined;
    if (cached !== undefined && cached.local === local) return cached;
    const r = new Recorder(this.#request, listener, route, cluster?.name ?? '', local);
    this.#recorders.set(key, r);
    return r;
  }

  /** The TCP recorder of one (listener, cluster). */
  tcpRecorder(listener: RecorderListener, cluster: UpstreamCluster): TcpRecorder {
    const local = this.#local(listener, cluster);
    const key = `${listener.name}\u0000${listener.direction}\u0000${cluster.name}`;
    const cached = this.#tcpRecorders.get(key) as (TcpRecorder & { local: PeerLabels }) | undefined;
    if (cached !== undefined && cached.local === local) return cached;
    const r = new TcpConnections([this.#tcpOpened, this.#tcpClosed, this.#tcpReceived, this.#tcpSent], listener, cluster.name, local);
    this.#tcpRecorders.set(key, r);
    return r;
  }

  #local(listener: RecorderListener, cluster: UpstreamCluster | null): PeerLabels {
    const self = this.#self;
    if (listener.direction !== 'inbound') return self;
    const service = cluster?.config.destination?.service;
    return service ? peerLabels({ ...self, service }) : self;
  }

  proxyError(listener: string, cause: string): void {
    this.#errors.inc({ listener, cause });
  }

  connectionOpened(listener: string, protocol: string): void {
    this.#activeConnections.inc({ listener, protocol });
  }

  connectionClosed(listener: string, protocol: string): void {
    this.#activeConnections.dec({ listener, protocol });
  }

  protocolDetectTimedOut(listener: string): void {
    this.#detectTimeouts.inc({ listener });
  }

  configApplied(version: string): void {
    this.#configInfo.reset();
    this.#configInfo.set({ version }, 1);
  }

  /** `resourceType`: one of the config resource types, or '' for a document that did not parse (label value `document`). */
  configRejected(resourceType: string): void {
    this.#configRejected.inc({ resource_type: CONFIG_RESOURCE_TYPE_LABELS.has(resourceType) ? resourceType : 'document' });
  }

  /** `count` resources of types this proxy does not know were ignored (their types are in the log, unbounded as labels). */
  configIgnored(count: number): void {
    this.#configIgnored.inc(count);
  }
}

/** Label values of one request, in REQUEST_LABELS order. */
function requestLabels(listener: RecorderListener, route: string, cluster: string, code: number, grpcStatus: number, mtls: boolean, source: PeerLabels, destination: PeerLabels): Record<RequestLabel, string> {
  return {
    listener: listener.name,
    direction: listener.direction,
    route,
    cluster,
    code: String(code),
    grpc_status: grpcStatusLabel(grpcStatus),
    mtls: mtls ? 'true' : 'false',
    source_workload: source.workload,
    source_namespace: source.namespace,
    source_identity: source.identity,
    destination_workload: destination.workload,
    destination_namespace: destination.namespace,
    destination_identity: destination.identity,
    destination_service: destination.service,
  };
}

/** One route's recorder: label children cached by (remote end, code, gRPC status, mTLS), so a request only increments. */
class Recorder implements RequestRecorder {
  readonly local: PeerLabels;
  readonly #metrics: RequestMetrics;
  readonly #listener: RecorderListener;
  readonly #route: string;
  readonly #cluster: string;
  readonly #inbound: boolean;
  readonly #children = new Map<PeerLabels, Map<number, RequestChildren>>();

  constructor(metrics: RequestMetrics, listener: RecorderListener, route: string, cluster: string, local: PeerLabels) {
    this.#metrics = metrics;
    this.#listener = listener;
    this.#route = route;
    this.#cluster = cluster;
    this.#inbound = listener.direction === 'inbound';
    this.local = local;
  }

  record(remote: PeerLabels, code: number, grpcStatus: number, mtls: boolean, seconds: number, requestBytes: number, responseBytes: number): void {
    let byRemote = this.#children.get(remote);
    if (byRemote === undefined) this.#children.set(remote, (byRemote = new Map()));
    // code < 1000, grpcStatus -1..16 (anything else is UNKNOWN's bucket): one small integer per combination.
    const g = grpcStatus < 0 ? 0 : grpcStatus > 16 ? 3 : grpcStatus + 1;
    const key = (code * 32 + g) * 2 + (mtls ? 1 : 0);
    let c = byRemote.get(key);
    if (c === undefined) {
      const [source, destination] = this.#inbound ? [remote, this.local] : [this.local, remote];
      const labels = requestLabels(this.#listener, this.#route, this.#cluster, code, grpcStatus > 16 ? 2 : grpcStatus, mtls, source, destination);
      c = this.#metrics.children(labels);
      byRemote.set(key, c);
    }
    c.requests.inc();
    c.duration.observe(seconds);
    c.requestSize.observe(requestBytes);
    c.responseSize.observe(responseBytes);
  }
}

/** One (listener, cluster)'s opaque TCP connections. */
class TcpConnections implements TcpRecorder {
  readonly local: PeerLabels;
  readonly inbound: boolean;
  readonly #counters: readonly [Counter<TcpLabel>, Counter<TcpLabel>, Counter<TcpLabel>, Counter<TcpLabel>];
  readonly #listener: RecorderListener;
  readonly #cluster: string;
  readonly #children = new Map<PeerLabels, [TcpChildren, TcpChildren]>();

  constructor(counters: readonly [Counter<TcpLabel>, Counter<TcpLabel>, Counter<TcpLabel>, Counter<TcpLabel>], listener: RecorderListener, cluster: string, local: PeerLabels) {
    this.#counters = counters;
    this.#listener = listener;
    this.#cluster = cluster;
    this.local = local;
    this.inbound = listener.direction === 'inbound';
  }

  opened(remote: PeerLabels, mtls: boolean): TcpConnectionRecord {
    let pair = this.#children.get(remote);
    if (pair === undefined) {
      const make = (m: boolean): TcpChildren => {
        const inbound = this.#listener.direction === 'inbound';
        const [source, destination] = inbound ? [remote, this.local] : [this.local, remote];
        const labels: Record<TcpLabel, string> = {
          listener: this.#listener.name,
          direction: this.#listener.direction,
          cluster: this.#cluster,
          mtls: m ? 'true' : 'false',
          source_workload: source.workload,
          source_namespace: source.namespace,
          source_identity: source.identity,
          destination_workload: destination.workload,
          destination_namespace: destination.namespace,
          destination_identity: destination.identity,
          destination_service: destination.service,
        };
        const [opened, closed, received, sent] = this.#counters.map((c) => c.labels(labels));
        return new TcpChildren(opened!, closed!, received!, sent!);
      };
      pair = [make(false), make(true)];
      this.#children.set(remote, pair);
    }
    const c = pair[mtls ? 1 : 0];
    c.opened.inc();
    return c;
  }
}

type Inc = { inc(v?: number): void };

class TcpChildren implements TcpConnectionRecord {
  readonly opened: Inc;
  readonly #closed: Inc;
  readonly #received: Inc;
  readonly #sent: Inc;

  constructor(opened: Inc, closed: Inc, received: Inc, sent: Inc) {
    this.opened = opened;
    this.#closed = closed;
    this.#received = received;
    this.#sent = sent;
  }

  closed(receivedBytes: number, sentBytes: number): void {
    this.#closed.inc();
    if (receivedBytes > 0) this.#received.inc(receivedBytes);
    if (sentBytes > 0) this.#sent.inc(sentBytes);
  }
}
