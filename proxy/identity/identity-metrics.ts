// The proxy's mesh-identity metrics (workload certificate, mTLS handshakes, authorization), on the proxy's one registry.
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

// Only the classes used (prom-client's index loads every default collector; see proxy-metrics.ts).
const requireLib = createRequire(import.meta.url);
const Counter = requireLib('prom-client/lib/counter') as typeof Prom.Counter;
const Gauge = requireLib('prom-client/lib/gauge') as typeof Prom.Gauge;

/** Why a workload certificate could not be obtained or renewed (a bounded label set). */
export type CertFailureReason = 'unavailable' | 'permission-denied' | 'unauthenticated' | 'invalid-argument' | 'invalid-response' | 'token' | 'other';
/** Why an mTLS handshake was refused (a bounded label set). */
export type HandshakeFailureReason = 'no-workload-certificate' | 'plaintext-refused' | 'peer-identity' | 'peer-untrusted' | 'handshake';

export class IdentityMetrics {
  readonly #expiry: Prom.Gauge;
  readonly #renewals: Prom.Counter;
  readonly #certFailures: Prom.Counter<'reason'>;
  readonly #handshakeFailures: Prom.Counter<'direction' | 'reason'>;
  readonly #authz: Prom.Counter<'listener' | 'policy' | 'decision' | 'reason'>;

  constructor(registry: Prom.Registry) {
    const registers = [registry];
    this.#expiry = new Gauge({ name: 'skein_workload_cert_expiry_timestamp_seconds', help: 'When the workload certificate in use expires (Unix seconds); 0 before the first one.', registers });
    this.#expiry.set(0);
    this.#renewals = new Counter({ name: 'skein_workload_cert_renewals_total', help: 'Workload certificates obtained (the first one included).', registers });
    this.#certFailures = new Counter({ name: 'skein_workload_cert_failures_total', help: 'Failed attempts to obtain a workload certificate, by reason.', labelNames: ['reason'], registers });
    this.#handshakeFailures = new Counter({ name: 'skein_mtls_handshake_failures_total', help: 'mTLS connections refused or failed, by direction and reason.', labelNames: ['direction', 'reason'], registers });
    this.#authz = new Counter({ name: 'skein_authorization_decisions_total', help: 'Inbound authorization decisions, by listener, policy, decision and reason.', labelNames: ['listener', 'policy', 'decision', 'reason'], registers });
  }

  certificateIssued(notAfterMs: number): void {
    this.#expiry.set(Math.floor(notAfterMs / 1000));
    this.#renewals.inc();
  }

  certificateFailed(reason: CertFailureReason): void {
    this.#certFailures.inc({ reason });
  }

  handshakeFailed(direction: 'inbound' | 'outbound', reason: HandshakeFailureReason): void {
    this.#handshakeFailures.inc({ direction, reason });
  }

  /** A counter child for one (listener, policy, decision, reason): made at config time, incremented per request. */
  authorizationCounter(listener: string, policy: string, decision: 'allow' | 'deny', reason: string): Prom.Counter.Internal {
    return this.#authz.labels({ listener, policy, decision, reason });
  }
}

const byRegistry = new WeakMap<Prom.Registry, IdentityMetrics>();

/** The identity metrics of a registry, made on first use (a proxy without mesh identity exports none). */
export function identityMetrics(registry: Prom.Registry): IdentityMetrics {
  let m = byRegistry.get(registry);
  if (m === undefined) {
    m = new IdentityMetrics(registry);
    byRegistry.set(registry, m);
  }
  return m;
}
