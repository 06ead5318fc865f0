// Default values of the telemetry config; documented in docs/proxy-config.md (Telemetry).
import type { TelemetryConfig } from './telemetry-config.ts';

// Istio's mesh default is 1 %: enough to follow a request, cheap at 1000 req/s.
export const DEFAULT_SAMPLING_PERCENT = 1;

// The OpenTelemetry SDK's BatchSpanProcessor defaults, except a shorter export timeout (a hung collector must not hold
// the queue for 30 s) and a shorter delay (spans show up in Jaeger within a second).
export const DEFAULT_TELEMETRY: TelemetryConfig = {
  workload: { workload: '', namespace: '', identity: '' },
  tracing: {
    collector: null,
    protocol: 'http/protobuf',
    samplingPercent: DEFAULT_SAMPLING_PERCENT,
    maxQueueSize: 2048,
    maxExportBatchSize: 512,
    scheduledDelayMs: 1000,
    exportTimeoutMs: 5000,
  },
  accessLog: { enabled: false },
};
