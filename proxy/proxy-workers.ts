// Runs the proxy as several worker processes sharing its listening sockets (node:cluster), so the ingress uses the pod's
// cores: the primary supervises (forks, restarts a crashed worker, forwards SIGTERM, exits when all are done) and holds
// what must be one for the whole proxy: the answer to a metrics scrape and the local rate limits' buckets.
import cluster, { type Worker } from 'node:cluster';
import { log } from './log.ts';
import type { WorkerLink } from './workers/worker-link.ts';
import { isToSupervisor, type MetricsResult, type ToSupervisor, type ToWorker } from './workers/worker-messages.ts';

/** A worker that dies this soon after it started is not restarted: it is the config or a port, not bad luck. */
const START_GRACE_MS = 5_000;
const RESTART_DELAY_MS = 1_000;
/** Shared buckets full and leased to no one (old settings, removed routes) are dropped this often. */
const BUCKET_SWEEP_MS = 60_000;

function sendTo(w: Worker | undefined, m: ToWorker): boolean {
  if (w === undefined || !w.isConnected()) return false;
  try {
    // With a callback a failed send is reported there, not as an 'error' event on the worker.
    w.send(m, () => {});
    return true;
  } catch {
    return false;
  }
}

/**
 * In the primary: forks `count` workers and supervises them until they have all exited; never returns normally (exits
 * the process). Each worker re-runs the same command line and, seeing `cluster.isWorker`, runs the proxy itself.
 * Sockets are shared with the workers, which accept on them themselves (SCHED_NONE: no hop through the primary).
 */
export async function superviseWorkers(count: number): Promise<never> {
  // Loaded here: a proxy of one process (a sidecar, --workers 1) never loads what only the supervisor needs.
  const [{ MetricsAggregator }, { RateLimitBroker }] = await Promise.all([import('./workers/metrics-aggregator.ts'), import('./workers/rate-limit-broker.ts')]);
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const startedAt = new Map<Worker, number>();
  /** Each worker's slot, 0..count-1: a restarted worker takes its predecessor's (the per-worker metrics' label). */
  const slots = new Map<Worker, number>();
  let stopping = false;
  let exitCode = 0;
  const metrics = new MetricsAggregator({
    send: (id, m) => sendTo(cluster.workers?.[id], m),
    warn: (msg, fields) => log('warn', msg, fields),
  });
  const broker = new RateLimitBroker(count, () => performance.now());
  setInterval(() => broker.sweep(), BUCKET_SWEEP_MS).unref();
  const onMessage = (w: Worker, m: ToSupervisor): void => {
    switch (m.type) {
      case 'skein:worker-ready':
        return metrics.workerReady(w.id, slots.get(w) ?? -1);
      case 'skein:metrics-collected':
        return metrics.collected(w.id, m.id, m.metrics);
      case 'skein:metrics-scrape':
        void metrics.scrape().then(
          (r) => void sendTo(w, { type: 'skein:metrics-result', id: m.id, ...r }),
          (e: unknown) => {
            log('warn', 'metrics aggregation failed', { error: String(e) });
            const failed: MetricsResult = { type: 'skein:metrics-result', id: m.id, contentType: '', body: '', error: 'aggregation failed' };
            sendTo(w, failed);
          },
        );
        return;
      case 'skein:lease-acquire': {
        const g = broker.acquire(w.id, m);
        if (g !== null) sendTo(w, g);
        return;
      }
      case 'skein:lease-release':
        return broker.release(w.id, m);
    }
  };
  cluster.on('message', (w: Worker, m: unknown) => {
    if (isToSupervisor(m)) onMessage(w, m);
  });
  const fork = (slot: number): void => {
    const w = cluster.fork();
    startedAt.set(w, Date.now());
    slots.set(w, slot);
  };
  const stopAll = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping workers', { reason: why, workers: Object.keys(cluster.workers ?? {}).length });
    // Each worker drains its own connections (up to drainTimeoutMs) and exits 0.
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  cluster.on('exit', (w, code, signal) => {
    const lived = Date.now() - (startedAt.get(w) ?? 0);
    const slot = slots.get(w) ?? 0;
    startedAt.delete(w);
    slots.delete(w);
    // What it held of the shared buckets no longer counts against them; its counters stay in every later scrape.
    broker.workerExited(w.id);
    metrics.workerExited(w.id);
    // Our own count: node:cluster keeps a worker in cluster.workers until its IPC channel has closed too, which can come
    // after its exit; counted from there, the last exit could see one left, and the supervisor would never exit.
    const left = startedAt.size;
    if (stopping) {
      if (left === 0) process.exit(exitCode);
      return;
    }
    if (code === 0 && signal === null) {
      // A worker that drained on request (POST /drain on the shared admin port): the whole proxy stops.
      return stopAll('a worker drained');
    }
    log('error', 'proxy worker exited', { pid: w.process.pid, code, signal, livedMs: lived });
    if (lived < START_GRACE_MS) {
      exitCode = 1;
      stopAll('a worker failed to start');
      if (left === 0) process.exit(exitCode);
      return;
    }
    // Not unref'd: when every worker died at once, this timer is what keeps the supervisor alive to restart them.
    setTimeout(() => {
      if (!stopping) fork(slot);
    }, RESTART_DELAY_MS);
  });
  process.on('SIGTERM', () => stopAll('SIGTERM'));
  process.on('SIGINT', () => stopAll('SIGINT'));
  // SIGHUP reloads the config file: each worker holds its own runtime (and would otherwise see the primary die of it).
  process.on('SIGHUP', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });
  log('info', 'starting proxy workers', { workers: count });
  for (let i = 0; i < count; i++) fork(i);
  return new Promise<never>(() => {});
}

export function isWorker(): boolean {
  return cluster.isWorker;
}

/** In a worker: its link to the supervisor (whole-proxy metrics, shared rate limits); null in a process of its own. */
export async function supervisorLink(): Promise<WorkerLink | null> {
  if (!cluster.isWorker) return null;
  const { connectToSupervisor } = await import('./workers/worker-link.ts');
  return connectToSupervisor();
}
