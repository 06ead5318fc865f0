// Builds what serve and the stack call for tracing and access logs from the telemetry config: the StackHooks (request
// observer, attempt spans), or nothing at all when both are off.
import type { TelemetryConfig, WorkloadMetadata } from '../../api/config/telemetry-config.ts';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import type { RequestObservation, RequestObserver, RequestOutcome, StackHooks } from '../stack/stack-hooks.ts';
import { otlpHttpSender, type SpanSender } from '../tracing/otlp-http-sender.ts';
import { ProxyTracer } from '../tracing/proxy-tracer.ts';
import { SpanBatcher } from '../tracing/span-batcher.ts';
import { AccessLog, type LineWriter, type TraceIds } from './access-log.ts';
import type { ProxyMetrics } from './proxy-metrics.ts';

export interface RequestTelemetry {
  /** null: neither tracing nor access logs (serve does nothing more per request). */
  readonly hooks: StackHooks | null;
  /** Every input it was built from: rebuilt only when this changes. */
  readonly key: string;
  readonly batcher: SpanBatcher | null;
  close(): void;
}

export interface RequestTelemetryDeps {
  readonly metrics: ProxyMetrics;
  /** The pod's `skein.dev/access-log` annotation (per workload); the config's accessLog.enabled is mesh-wide. */
  readonly accessLogAnnotation?: boolean;
  readonly out?: LineWriter;
  /** Replaces the OTLP/HTTP sender (tests). */
  readonly sender?: SpanSender;
  /** The proxy's name, for the trace resource when the workload is unknown. */
  readonly node?: string;
}

/** The sender is built on first export: the serializer modules load only once a sampled span exists. */
function lazySender(make: () => Promise<SpanSender>): SpanSender {
  let sender: Promise<SpanSender> | null = null;
  return async (spans: readonly ReadableSpan[]) => {
    sender ??= make();
    try {
      return await (await sender)(spans);
    } catch {
      return 'error';
    }
  };
}

class Observation implements RequestObservation {
  readonly #trace: (RequestObservation & TraceIds) | null;
  readonly #log: AccessLog;

  constructor(trace: (RequestObservation & TraceIds) | null, log: AccessLog) {
    this.#trace = trace;
    this.#log = log;
  }

  finish(req: ProxyRequest, outcome: RequestOutcome): void {
    this.#trace?.finish(req, outcome);
    this.#log.log(req, outcome, this.#trace);
  }
}

class WithAccessLog implements RequestObserver {
  readonly #tracer: ProxyTracer | null;
  readonly #log: AccessLog;
  readonly #metrics: ProxyMetrics;

  constructor(tracer: ProxyTracer | null, log: AccessLog, metrics: ProxyMetrics) {
    this.#tracer = tracer;
    this.#log = log;
    this.#metrics = metrics;
  }

  start(req: ProxyRequest): RequestObservation {
    let trace: (RequestObservation & TraceIds) | null = null;
    try {
      trace = this.#tracer?.start(req) ?? null;
    } catch {
      this.#metrics.telemetryError('tracing');
    }
    return new Observation(trace, this.#log);
  }
}

export function requestTelemetry(t: TelemetryConfig, self: WorkloadMetadata, deps: RequestTelemetryDeps): RequestTelemetry {
  const accessLog = t.accessLog.enabled || deps.accessLogAnnotation === true;
  const tracing = t.tracing.collector !== null;
  const key = JSON.stringify([t.tracing, accessLog, self]);
  if (!tracing && !accessLog) return { hooks: null, key, batcher: null, close() {} };
  const metrics = deps.metrics;
  let tracer: ProxyTracer | null = null;
  let batcher: SpanBatcher | null = null;
  if (tracing) {
    const o = t.tracing;
    const sender = deps.sender ?? lazySender(() => otlpHttpSender({ url: o.collector!, protocol: o.protocol, timeoutMs: o.exportTimeoutMs }));
    batcher = new SpanBatcher(o, sender, metrics.traceEvents);
    // The serializers read only these two fields of a Resource; @opentelemetry/resources (and its detectors) stay unloaded.
    const serviceName = self.workload !== '' ? (self.namespace !== '' ? `${self.workload}.${self.namespace}` : self.workload) : (deps.node ?? 'skein-proxy');
    const attributes: Record<string, string> = { 'service.name': serviceName, 'telemetry.sdk.name': 'skein', 'telemetry.sdk.language': 'nodejs' };
    if (self.namespace !== '') attributes['k8s.namespace.name'] = self.namespace;
    if (self.identity !== '') attributes['skein.identity'] = self.identity;
    if (deps.node !== undefined) attributes['skein.node'] = deps.node;
    const resource = { attributes } as unknown as Resource;
    const b = batcher;
    tracer = new ProxyTracer({ samplingPercent: o.samplingPercent, resource }, { add: (span) => b.add(span), error: () => metrics.telemetryError('tracing') });
  }
  let observe: RequestObserver | null = tracer;
  if (accessLog) observe = new WithAccessLog(tracer, new AccessLog(deps.out ?? process.stdout, () => metrics.accessLogDropped()), metrics);
  return {
    hooks: { authorize: null, span: tracer?.span ?? null, observe },
    key,
    batcher,
    close: () => batcher?.close(),
  };
}
