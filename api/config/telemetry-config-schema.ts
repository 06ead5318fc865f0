// JSON Schema fragments of the telemetry config (the input form), used by proxy-config-schema.ts and policy-config-schema.ts.

const percent = { type: 'number', minimum: 0, maximum: 100 } as const;
/** A Kubernetes name or '' (label values stay bounded and printable). */
const k8sName = { type: 'string', maxLength: 253, pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$' } as const;
const identity = { type: 'string', maxLength: 512, pattern: '^(spiffe://[A-Za-z0-9._/-]+)?$' } as const;

export const workloadMetadataSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { workload: k8sName, namespace: k8sName, identity },
} as const;

export const destinationMetadataSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { workload: k8sName, namespace: k8sName, identity, service: k8sName },
} as const;

export const routeTracingSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { samplingPercent: percent },
} as const;

export const telemetrySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    workload: workloadMetadataSchema,
    tracing: {
      type: 'object',
      additionalProperties: false,
      properties: {
        collector: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^https?://[^\\s]+$' },
        protocol: { enum: ['http/protobuf', 'http/json'] },
        samplingPercent: percent,
        maxQueueSize: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        maxExportBatchSize: { type: 'integer', minimum: 1, maximum: 100_000 },
        scheduledDelayMs: { type: 'integer', minimum: 1, maximum: 600_000 },
        exportTimeoutMs: { type: 'integer', minimum: 1, maximum: 600_000 },
      },
    },
    accessLog: {
      type: 'object',
      additionalProperties: false,
      properties: { enabled: { type: 'boolean' } },
    },
  },
} as const;
