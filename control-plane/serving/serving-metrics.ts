// The config-discovery service's metrics: connected proxies, pushes, push-to-answer latency, ACKs, NACKs by the type of
// resource rejected, and streams cut by cause; fed by ConfigServer's events and read at scrape time.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CONFIG_RESOURCE_TYPES } from '../../api/config/config-resources.ts';
import type { NackReason } from '../../api/proto/config-discovery.ts';
import type { ConfigServerOptions } from './config-server.ts';

/** NACKs are labelled with the type of the first rejected resource: a fixed set, so the label stays bounded. */
export const NACK_REASON_VALUES = [...CONFIG_RESOURCE_TYPES, 'other'] as const;
/** Causes a stream is cut for (the codes ConfigServer cuts with); anything else is counted as `other`. */
export const CUT_REASON_VALUES = ['SKEIN_ERR_CP_ACK_TIMEOUT', 'SKEIN_ERR_CP_UNKNOWN_PROXY', 'SKEIN_ERR_CP_SHUTTING_DOWN', 'other'] as const;

export class ServingMetrics {
  readonly pushes: Counter;
  readonly acks: Counter;
  readonly nacks: Counter<'reason'>;
  readonly cuts: Counter<'reason'>;
  readonly answerLatency: Histogram<'result'>;
  readonly connected: Gauge;

  /** `connectedCount` is read at scrape time (never counted up and down by hand, so it cannot drift). */
  constructor(registry: Registry, connectedCount: () => number) {
    this.connected = new Gauge({
      name: 'skein_cp_proxies_connected',
      help: 'Proxies holding a config stream to this replica',
      registers: [registry],
      collect() {
        this.set(connectedCount());
      },
    });
    this.pushes = new Counter({ name: 'skein_cp_pushes_total', help: 'Config pushes sent to proxies (each a change set of what the proxy lacks)', registers: [registry] });
    this.acks = new Counter({ name: 'skein_cp_acks_total', help: 'Pushes the proxy applied (ACK)', registers: [registry] });
    this.nacks = new Counter({
      name: 'skein_cp_nacks_total',
      help: 'Pushes the proxy rejected (NACK), by the type of the first resource it rejected; the proxy kept its last good config',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.cuts = new Counter({ name: 'skein_cp_stream_cuts_total', help: 'Proxy streams this replica cut, by cause', labelNames: ['reason'], registers: [registry] });
    this.answerLatency = new Histogram({
      name: 'skein_cp_push_duration_seconds',
      help: 'Time from a push being sent to the proxy answering it, by answer (ack, nack)',
      labelNames: ['result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    // Every series exists from the start (at 0), so a dashboard's rate() has something to read before the first NACK.
    for (const r of NACK_REASON_VALUES) this.nacks.labels(r).inc(0);
    for (const r of CUT_REASON_VALUES) this.cuts.labels(r).inc(0);
    for (const r of ['ack', 'nack']) this.answerLatency.labels(r);
  }

  /** The ConfigServer observers that feed these metrics. */
  events(): NonNullable<ConfigServerOptions['events']> {
    return {
      onPush: () => this.pushes.inc(),
      onAck: (_id, _version, latencyMs) => {
        this.acks.inc();
        this.answerLatency.labels('ack').observe(latencyMs / 1000);
      },
      onNack: (_id, _version, latencyMs, reasons) => {
        this.nacks.labels(nackReason(reasons)).inc();
        this.answerLatency.labels('nack').observe(latencyMs / 1000);
      },
      onCut: (_id, code) => this.cuts.labels((CUT_REASON_VALUES as readonly string[]).includes(code) ? code : 'other').inc(),
    };
  }
}

/** The bounded label of a NACK: the type of its first reason when it is a known resource type. */
export function nackReason(reasons: readonly Pick<NackReason, 'type'>[]): (typeof NACK_REASON_VALUES)[number] {
  const t = reasons[0]?.type ?? '';
  return (CONFIG_RESOURCE_TYPES as readonly string[]).includes(t) ? (t as (typeof CONFIG_RESOURCE_TYPES)[number]) : 'other';
}
