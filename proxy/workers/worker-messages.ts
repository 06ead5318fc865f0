// The messages between the ingress's worker processes and their supervisor (node:cluster IPC): metrics and rate-limit leases.
import type { Registry } from 'prom-client';

/** A worker that has not answered a scrape this long after it was asked is left out of it (its last counters are used). */
export const SCRAPE_TIMEOUT_MS = 1_000;

/** One registry's metrics as prom-client's getMetricsAsJSON gives them (what workers send for aggregation). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Worker -> supervisor: this worker answers collects from now on (asked before, a starting worker would miss them). */
export interface WorkerReady {
  readonly type: 'skein:worker-ready';
}
/** Worker -> supervisor: a scrape arrived on the shared admin port; answer it for the whole proxy. */
export interface MetricsScrape {
  readonly type: 'skein:metrics-scrape';
  readonly id: number;
}
/** Supervisor -> every worker: send your metrics for scrape `id`. */
export interface MetricsCollect {
  readonly type: 'skein:metrics-collect';
  readonly id: number;
}
/** Worker -> supervisor: this worker's metrics for collect `id`. */
export interface MetricsCollected {
  readonly type: 'skein:metrics-collected';
  readonly id: number;
  readonly metrics: MetricsJson;
}
/** Supervisor -> the worker that asked: the whole proxy's metrics text (or why not). */
export interface MetricsResult {
  readonly type: 'skein:metrics-result';
  readonly id: number;
  readonly contentType: string;
  readonly body: string;
  readonly error?: string;
}

/** Which shared bucket: the worker's key for it (listener or route) with its settings (another setting is another bucket). */
export interface BucketRef {
  readonly bucket: string;
  readonly requestsPerSecond: number;
  readonly burst: number;
}
/** Worker -> supervisor: `need` requests wait for tokens (0: topping up ahead of need); the worker has `held` left. */
export interface LeaseAcquire extends BucketRef {
  readonly type: 'skein:lease-acquire';
  readonly id: number;
  readonly need: number;
  readonly held: number;
}
/** Supervisor -> worker: the answer to acquire `id`; `lease`: how many tokens a worker should keep at hand. */
export interface LeaseGrant {
  readonly type: 'skein:lease-grant';
  readonly id: number;
  readonly bucket: string;
  readonly granted: number;
  readonly waitMs: number;
  readonly lease: number;
}
/** Worker -> supervisor: giving back the `held` tokens of an expired lease. */
export interface LeaseRelease extends BucketRef {
  readonly type: 'skein:lease-release';
  readonly held: number;
}

export type ToSupervisor = WorkerReady | MetricsScrape | MetricsCollected | LeaseAcquire | LeaseRelease;
export type ToWorker = MetricsCollect | MetricsResult | LeaseGrant;

const TO_SUPERVISOR: ReadonlySet<string> = new Set(['skein:worker-ready', 'skein:metrics-scrape', 'skein:metrics-collected', 'skein:lease-acquire', 'skein:lease-release']);
const TO_WORKER: ReadonlySet<string> = new Set(['skein:metrics-collect', 'skein:metrics-result', 'skein:lease-grant']);

function typed(m: unknown): string | null {
  if (m === null || typeof m !== 'object') return null;
  const t = (m as { type?: unknown }).type;
  return typeof t === 'string' ? t : null;
}

/** One of ours (the IPC channel also carries node:cluster's own messages, which are never passed here). */
export function isToSupervisor(m: unknown): m is ToSupervisor {
  const t = typed(m);
  return t !== null && TO_SUPERVISOR.has(t);
}

export function isToWorker(m: unknown): m is ToWorker {
  const t = typed(m);
  return t !== null && TO_WORKER.has(t);
}

/** A finite number >= 0 (the supervisor checks what workers send before it uses it). */
export function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
}
