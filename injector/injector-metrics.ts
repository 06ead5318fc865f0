// Prometheus metrics of the webhook, in their own registry (so tests and several servers in one process do not collide).
import { Counter, Histogram, Registry } from 'prom-client';

export type AdmissionResult = 'injected' | 'skipped' | 'denied' | 'error';

export interface InjectorMetrics {
  readonly registry: Registry;
  observe(result: AdmissionResult, seconds: number): void;
  certRotated(kind: 'leaf' | 'ca'): void;
  caBundlePublishFailed(): void;
}

export function createInjectorMetrics(): InjectorMetrics {
  const registry = new Registry();
  const admissions = new Counter({
    name: 'skein_injector_admissions_total',
    help: 'AdmissionReviews answered, by result (injected, skipped, denied, error)',
    labelNames: ['result'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'skein_injector_admission_duration_seconds',
    help: 'Time from a complete AdmissionReview body to the answer',
    labelNames: ['result'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const rotations = new Counter({ name: 'skein_injector_cert_rotations_total', help: 'Serving certificate rotations', labelNames: ['kind'], registers: [registry] });
  const publishFailures = new Counter({ name: 'skein_injector_ca_bundle_publish_failures_total', help: 'Failed caBundle writes to the MutatingWebhookConfiguration', registers: [registry] });
  for (const r of ['injected', 'skipped', 'denied', 'error']) admissions.labels(r).inc(0);
  return {
    registry,
    observe(result, seconds) {
      admissions.labels(result).inc();
      latency.labels(result).observe(seconds);
    },
    certRotated(kind) {
      rotations.labels(kind).inc();
    },
    caBundlePublishFailed() {
      publishFailures.inc();
    },
  };
}
