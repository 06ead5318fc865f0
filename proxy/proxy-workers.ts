// Runs the proxy as several worker processes sharing its listening sockets (node:cluster), so the ingress uses the pod's
// cores: the primary only supervises (forks, restarts a crashed worker, forwards SIGTERM, exits when all are done).
import cluster, { type Worker } from 'node:cluster';
import { log } from './log.ts';

/** A worker that dies this soon after it started is not restarted: it is the config or a port, not bad luck. */
const START_GRACE_MS = 5_000;
const RESTART_DELAY_MS = 1_000;

/**
 * In the primary: forks `count` workers and supervises them until they have all exited; never returns normally (exits
 * the process). Each worker re-runs the same command line and, seeing `cluster.isWorker`, runs the proxy itself.
 * Sockets are shared with the workers, which accept on them themselves (SCHED_NONE: no hop through the primary).
 */
export function superviseWorkers(count: number): Promise<never> {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const startedAt = new Map<Worker, number>();
  let stopping = false;
  let exitCode = 0;
  const fork = (): void => {
    const w = cluster.fork();
    startedAt.set(w, Date.now());
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
    startedAt.delete(w);
    const left = Object.keys(cluster.workers ?? {}).length;
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
    setTimeout(() => {
      if (!stopping) fork();
    }, RESTART_DELAY_MS).unref();
  });
  process.on('SIGTERM', () => stopAll('SIGTERM'));
  process.on('SIGINT', () => stopAll('SIGINT'));
  // SIGHUP reloads the config file: each worker holds its own runtime (and would otherwise see the primary die of it).
  process.on('SIGHUP', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });
  log('info', 'starting proxy workers', { workers: count });
  for (let i = 0; i < count; i++) fork();
  return new Promise<never>(() => {});
}

export function isWorker(): boolean {
  return cluster.isWorker;
}
