// The proxy's tracer: a span per request at each hop (server on inbound and at the ingress, client on outbound) with a
// child span per attempt, propagated as W3C and B3, sampled per route, exported in batches. Costs nothing when unset.
import type { Attributes, HrTime, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { ListenerDirection } from '../../api/config/proxy-config.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import type { ProxyError } from '../errors/proxy-error.ts';
import type { CompiledRoute } from '../routing/route-table.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import type { ProxyResponse } from '../stack/proxy-response.ts';
import type { HopSpan, RequestObservation, RequestObserver, RequestOutcome, SpanStarter } from '../stack/stack-hooks.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { grpcStatusLabel } from '../telemetry/proxy-metrics.ts';
import { shouldSample } from './sampler.ts';
import { newSpanId, newTraceId } from './span-ids.ts';
import { extractSamplingOnly, injectTraceContext, injectUnsampled, readB3Multi, readB3Single, readTraceparent, type TraceParent } from './trace-context.ts';

// @opentelemetry/api's SpanKind and SpanStatusCode values, inlined so the proxy loads no OpenTelemetry module per request.
const KIND_SERVER = 1 as SpanKind;
const KIND_CLIENT = 2 as SpanKind;
const STATUS_UNSET: SpanStatus = { code: 0 };
const STATUS_ERROR: SpanStatus = { code: 2 };
const SCOPE = { name: 'skein-proxy', version: '0.1.0' };
const NO_LINKS: [] = [];
const NO_EVENTS: [] = [];

/** Where finished spans go (the batcher) and what the tracer counts. */
export interface TracerSink {
  add(span: ReadableSpan): void;
  /** A telemetry error that was swallowed (never thrown into a request). */
  error(): void;
}

export interface TracerOptions {
  /** The mesh default share (0-100) of new traces sampled. */
  readonly samplingPercent: number;
  readonly resource: Resource;
  readonly random?: () => number;
}

function hrTime(epochMs: number): HrTime {
  const s = Math.floor(epochMs / 1000);
  return [s, Math.round((epochMs - s * 1000) * 1e6)];
}

/** A finished span in the shape the OTLP serializers read. Built only for sampled hops, once, when the hop is done. */
class FinishedSpan implements ReadableSpan {
  readonly kind: SpanKind;
  readonly name: string;
  readonly parentSpanContext: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links = NO_LINKS;
  readonly events = NO_EVENTS;
  readonly ended = true;
  readonly resource: Resource;
  readonly instrumentationScope = SCOPE;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly #context: SpanContext;

  constructor(resource: Resource, name: string, kind: SpanKind, traceId: string, spanId: string, parent: string | null, traceState: string | null, startMs: number, endMs: number, status: SpanStatus, attributes: Attributes) {
    this.resource = resource;
    this.name = name;
    this.kind = kind;
    const ts = traceState === null ? undefined : ({ serialize: () => traceState } as unknown as SpanContext['traceState']);
    this.#context = { traceId, spanId, traceFlags: 1, traceState: ts };
    this.parentSpanContext = parent === null ? undefined : { traceId, spanId: parent, traceFlags: 1, isRemote: true };
    this.startTime = hrTime(startMs);
    this.endTime = hrTime(endMs);
    this.duration = hrTime(Math.max(0, endMs - startMs));
    this.status = status;
    this.attributes = attributes;
  }

  spanContext = (): SpanContext => this.#context;
}

/** Per route, built once: the span name, the attributes every span of the route carries, its sampling rate. */
interface RouteTracing {
  readonly name: string;
  readonly attributes: Attributes;
  readonly samplingPercent: number;
}

/** Per cluster, built once: the attempt span's name and base attributes. */
interface ClusterTracing {
  readonly name: string;
  readonly attributes: Attributes;
}

/** gRPC statuses that are a server-side error (OpenTelemetry's RPC conventions). */
const GRPC_SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

/**
 * The trace state of one request, kept from serve until the response is complete. Ids are made only when asked for: a
 * request not sampled that came with a W3C context makes none.
 */
class TracedRequest implements RequestObservation {
  /** The caller's context, or null for a new trace. */
  readonly #parent: TraceParent | null;
  /** The parent came as W3C traceparent (passed on as it came when not sampled). */
  readonly #w3c: boolean;
  readonly #parentSampled: boolean | null;
  #sampled: boolean | null = null;
  #traceId: string | null;
  #spanId: string | null = null;
  readonly #tracer: ProxyTracer;

  constructor(tracer: ProxyTracer, req: ProxyRequest) {
    this.#tracer = tracer;
    const h = req.clientHeaders;
    const w3c = readTraceparent(h);
    const parent = w3c ?? readB3Single(h) ?? readB3Multi(h);
    this.#parent = parent;
    this.#w3c = w3c !== null;
    this.#traceId = parent?.traceId ?? null;
    this.#parentSampled = parent !== null ? parent.sampled : extractSamplingOnly(h);
  }

  get traceId(): string {
    return (this.#traceId ??= newTraceId());
  }

  /** This hop's span. */
  get spanId(): string {
    return (this.#spanId ??= newSpanId());
  }

  /** The caller's span, or null for a new trace. */
  get parentSpanId(): string | null {
    return this.#parent?.spanId ?? null;
  }

  get traceState(): string | null {
    return this.#parent?.traceState ?? null;
  }

  /** Decided once, when the route is known (an attempt starts, or the request ends). */
  sampled(req: ProxyRequest): boolean {
    let s = this.#sampled;
    if (s === null) s = this.#sampled = shouldSample(this.#parentSampled, this.#tracer.samplingPercent(req.route), this.#tracer.random);
    return s;
  }

  /** Not sampled: the decision goes on, under the caller's ids when it gave some, else under new ones. */
  propagateUnsampled(headers: HeaderBag): void {
    const p = this.#parent;
    injectUnsampled(headers, this.#w3c ? null : `00-${this.traceId}-${p !== null ? p.spanId : this.spanId}-00`);
  }

  finish(req: ProxyRequest, outcome: RequestOutcome): void {
    this.#tracer.finishRequest(this, req, outcome);
  }
}

/** One attempt's span: started below balance (the endpoint is known), ended when the attempt answers or fails. */
class AttemptSpan implements HopSpan {
  readonly #tracer: ProxyTracer;
  readonly #trace: TracedRequest;
  readonly #req: ProxyRequest;
  readonly spanId: string;
  readonly #startMs: number;
  readonly #attempt: number;

  constructor(tracer: ProxyTracer, trace: TracedRequest, req: ProxyRequest, spanId: string, startMs: number) {
    this.#tracer = tracer;
    this.#trace = trace;
    this.#req = req;
    this.spanId = spanId;
    this.#startMs = startMs;
    this.#attempt = req.attempt;
  }

  end(res: ProxyResponse | null, error: ProxyError | null): void {
    this.#tracer.finishAttempt(this.#trace, this.#req, this.spanId, this.#startMs, this.#attempt, res, error);
  }
}

export class ProxyTracer implements RequestObserver {
  readonly #defaultPercent: number;
  readonly #resource: Resource;
  readonly #sink: TracerSink;
  readonly random: () => number;
  readonly #routes = new WeakMap<CompiledRoute, RouteTracing>();
  readonly #clusters = new WeakMap<UpstreamCluster, ClusterTracing>();
  readonly #noRoute = new Map<ListenerDirection, RouteTracing>();

  constructor(o: TracerOptions, sink: TracerSink) {
    this.#defaultPercent = o.samplingPercent;
    this.#resource = o.resource;
    this.random = o.random ?? Math.random;
    this.#sink = sink;
  }

  /** RequestObserver: every request gets its trace context (sampled or not, it is propagated). */
  start(req: ProxyRequest): RequestObservation & { readonly traceId: string; readonly spanId: string } {
    const t = new TracedRequest(this, req);
    req.observation = t;
    return t;
  }

  /** The stack's span hook: one span per attempt, below balance. The request-level span is the observation's. */
  readonly span: SpanStarter = (req, hop) => {
    if (hop !== 'attempt') return null;
    const trace = req.observation;
    if (!(trace instanceof TracedRequest)) return null; // a mirror's copy, or a request this tracer did not start
    try {
      if (!trace.sampled(req)) {
        // No span, no attempt object: the decision alone is passed on, so the next hops agree (docs/tracing-and-access-logs.md).
        trace.propagateUnsampled(req.headers);
        return null;
      }
      const spanId = newSpanId();
      injectTraceContext(req.headers, trace.traceId, spanId, true, trace.traceState, trace.spanId);
      return new AttemptSpan(this, trace, req, spanId, performance.timeOrigin + performance.now());
    } catch {
      this.#sink.error();
      return null;
    }
  };

  samplingPercent(route: CompiledRoute | null): number {
    return route === null ? this.#defaultPercent : this.#route(route).samplingPercent;
  }

  #route(route: CompiledRoute): RouteTracing {
    let r = this.#routes.get(route);
    if (r === undefined) {
      // The listener's direction is not on the route: filled from the first request (one route belongs to one listener).
      r = {
        name: route.name,
        attributes: Object.freeze({ 'skein.route': route.name }),
        samplingPercent: route.config.tracing?.samplingPercent ?? this.#defaultPercent,
      };
      this.#routes.set(route, r);
    }
    return r;
  }

  #cluster(cluster: UpstreamCluster): ClusterTracing {
    let c = this.#clusters.get(cluster);
    if (c === undefined) {
      c = { name: `attempt ${cluster.name}`, attributes: Object.freeze({ 'skein.cluster': cluster.name }) };
      this.#clusters.set(cluster, c);
    }
    return c;
  }

  #requestName(req: ProxyRequest): string {
    const d = req.downstream.direction;
    if (req.route !== null) return `${d} ${this.#route(req.route).name}`;
    let r = this.#noRoute.get(d);
    if (r === undefined) this.#noRoute.set(d, (r = { name: `${d} (no route)`, attributes: {}, samplingPercent: this.#defaultPercent }));
    return r.name;
  }

  finishRequest(t: TracedRequest, req: ProxyRequest, o: RequestOutcome): void {
    try {
      if (!t.sampled(req)) return;
      const d = req.downstream;
      const route = req.route;
      const attributes: Attributes = {
        ...(route !== null ? this.#route(route).attributes : {}),
        'skein.direction': d.direction,
        'skein.listener': d.listener,
        'http.request.method': req.method,
        'server.address': req.authority,
        'url.path': req.path.length > 1024 ? req.path.slice(0, 1024) : req.path,
        'http.response.status_code': o.code,
        'client.address': d.clientAddress,
        'http.request.body.size': o.requestBytes,
        'http.response.body.size': o.responseBytes,
        'skein.attempts': req.attempt,
      };
      if (req.cluster !== null) attributes['skein.cluster'] = req.cluster.name;
      if (req.endpoint !== null) attributes['skein.upstream'] = req.endpoint.state.key;
      if (d.peerIdentity !== null) attributes['skein.peer.identity'] = d.peerIdentity;
      if (o.grpcStatus >= 0) {
        attributes['rpc.system'] = 'grpc';
        attributes['rpc.grpc.status_code'] = o.grpcStatus;
        attributes['skein.grpc.status'] = grpcStatusLabel(o.grpcStatus);
      }
      if (o.cause !== null) attributes['skein.error.cause'] = o.cause;
      const inbound = d.direction !== 'outbound';
      const error = o.code >= 500 || (o.grpcStatus >= 0 && GRPC_SERVER_ERRORS.has(o.grpcStatus)) || (!inbound && o.code >= 400 && o.code !== 499);
      const start = performance.timeOrigin + req.startedAt;
      this.#sink.add(
        new FinishedSpan(this.#resource, this.#requestName(req), inbound ? KIND_SERVER : KIND_CLIENT, t.traceId, t.spanId, t.parentSpanId, t.traceState, start, start + o.seconds * 1000, error ? STATUS_ERROR : STATUS_UNSET, attributes),
      );
    } catch {
      this.#sink.error();
    }
  }

  finishAttempt(t: TracedRequest, req: ProxyRequest, spanId: string, startMs: number, attempt: number, res: ProxyResponse | null, e: ProxyError | null): void {
    try {
      const cluster = req.cluster;
      const base = cluster !== null ? this.#cluster(cluster) : null;
      const attributes: Attributes = { ...(base?.attributes ?? {}), 'http.request.resend_count': attempt - 1 };
      const ep = req.endpoint;
      if (ep !== null) {
        attributes['server.address'] = ep.state.address;
        attributes['server.port'] = ep.state.port;
      }
      if (res !== null) attributes['http.response.status_code'] = res.status;
      if (e !== null) attributes['skein.error.cause'] = e.spec.cause;
      const failed = e !== null || (res !== null && res.status >= 500);
      this.#sink.add(
        new FinishedSpan(this.#resource, base?.name ?? 'attempt', KIND_CLIENT, t.traceId, spanId, t.spanId, t.traceState, startMs, performance.timeOrigin + performance.now(), failed ? STATUS_ERROR : STATUS_UNSET, attributes),
      );
    } catch {
      this.#sink.error();
    }
  }
}
