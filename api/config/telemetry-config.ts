// The typed model of what a proxy reports about the traffic it serves: who it is (metric labels), traces, access logs.
//
// Workload facts are plain strings, '' when unknown (metrics then say "unknown"). They come from the injector's
// environment for the proxy's own pod, and from the control plane for each destination (cluster and endpoint metadata).

/** Who a workload is, for metric labels and span attributes. Every field '' when unknown. */
export interface WorkloadMetadata {
  /** The workload's name (a Deployment's, StatefulSet's, ...; the pod's when it has no owner). */
  readonly workload: string;
  readonly namespace: string;
  /** Its SPIFFE identity (`spiffe://<trust-domain>/ns/<ns>/sa/<serviceaccount>`). */
  readonly identity: string;
}

/** What the control plane knows about a destination (a cluster, overridden per endpoint). Every field optional. */
export interface DestinationMetadata extends WorkloadMetadata {
  /** The Kubernetes Service the destination belongs to, as `name.namespace` (Istio's destination_service_name + namespace). */
  readonly service: string;
}

export interface TracingConfig {
  /**
   * OTLP/HTTP traces URL of the collector (e.g. `http://jaeger-collector.observability:4318/v1/traces`). null: no span
   * is exported (trace headers are still propagated and sampling decisions still passed on).
   */
  readonly collector: string | null;
  /** `http/protobuf` (the OTLP default) or `http/json`. */
  readonly protocol: 'http/protobuf' | 'http/json';
  /** The mesh default share (0-100) of new traces sampled; a route's `tracing.samplingPercent` overrides it. */
  readonly samplingPercent: number;
  /** Spans waiting for export; when full, new spans are dropped and counted (`skein_trace_spans_dropped_total`). */
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  /** How long a batch waits to fill before it is sent. */
  readonly scheduledDelayMs: number;
  /** One export's timeout; a collector that hangs costs at most this before the batch is dropped. */
  readonly exportTimeoutMs: number;
}

export interface AccessLogConfig {
  /** One JSON line per request on stdout. Off by default; on mesh-wide here, per workload by the `skein.dev/access-log` annotation. */
  readonly enabled: boolean;
}

export interface TelemetryConfig {
  /** This proxy's own workload: the source of its outbound requests and the destination of its inbound ones. */
  readonly workload: WorkloadMetadata;
  readonly tracing: TracingConfig;
  readonly accessLog: AccessLogConfig;
}

/** Per route (TrafficPolicy `tracing`); null fields take the mesh default. */
export interface RouteTracingConfig {
  /** Share (0-100) of new traces this route starts that are sampled; an incoming sampled flag is honoured whatever it says. */
  readonly samplingPercent: number | null;
}
