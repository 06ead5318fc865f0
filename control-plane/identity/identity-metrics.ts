// The identity service's metrics: certificates issued, refusals by reason, and how long an issuance takes.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { IDENTITY_REJECTIONS, type IdentityRejectionReason } from './identity-rejection.ts';

export class IdentityMetrics {
  readonly issued: Counter;
  readonly rejected: Counter<'reason'>;
  readonly latency: Histogram;
  readonly caReloads: Counter<'result'>;
  readonly caExpiry: Gauge;
  readonly bundlePublishes: Counter<'result'>;
  readonly #rejectedByReason = new Map<IdentityRejectionReason, Counter.Internal>();

  constructor(registry: Registry) {
    this.issued = new Counter({ name: 'skein_cp_certificates_issued_total', help: 'Workload certificates signed by the identity service', registers: [registry] });
    this.rejected = new Counter({ name: 'skein_cp_certificates_rejected_total', help: 'Certify calls refused, by reason (docs/identity.md)', labelNames: ['reason'], registers: [registry] });
    this.latency = new Histogram({
      name: 'skein_cp_certificate_issuance_seconds',
      help: 'Time from a Certify call to its answer (TokenReview included), issued or refused',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    this.caReloads = new Counter({ name: 'skein_cp_ca_reloads_total', help: 'Re-reads of the CA Secret that changed something or failed, by result (reloaded, refused, unreadable)', labelNames: ['result'], registers: [registry] });
    this.caExpiry = new Gauge({ name: 'skein_cp_ca_expiry_timestamp_seconds', help: 'When the signing CA certificate expires (Unix seconds)', registers: [registry] });
    this.bundlePublishes = new Counter({ name: 'skein_cp_trust_bundle_publishes_total', help: 'Writes of the trust bundle ConfigMap, by result (created, updated, conflict, failed)', labelNames: ['result'], registers: [registry] });
    // Every reason exists from the start (at 0), so dashboards and alerts see a series before the first refusal.
    for (const reason of Object.keys(IDENTITY_REJECTIONS) as IdentityRejectionReason[]) {
      const child = this.rejected.labels(reason);
      child.inc(0);
      this.#rejectedByReason.set(reason, child);
    }
  }

  reject(reason: IdentityRejectionReason): void {
    this.#rejectedByReason.get(reason)!.inc();
  }
}
