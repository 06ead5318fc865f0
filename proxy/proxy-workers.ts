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

/** What the supervisor needs of a worker process. */
export interface SupervisedWorker {
  readonly process: { readonly pid?: number | undefined; kill(signal: NodeJS.Signals): unknown };
}

/** What the supervisor does to the world: fork a worker, end the process, wait. */
export interface SupervisorActions<W extends SupervisedWorker> {
  /** `slot`: 0..count-1, the same for a restarted worker as for the one it replaces (the per-worker metrics' label). */
  fork(slot: number): W;
  exit(code: number): void;
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

/**
 * The supervisor's bookkeeping, apart from node:cluster so that every order of events can be tested. It counts the
 * workers it forked and saw exit itself, never from `cluster.workers`: cluster removes a worker from that list only once
 * both its 'exit' and its 'disconnect' have come, in either order, so at the last worker's 'exit' the list may still hold
 * it; nothing was then left to end the supervisor, which died of its unsettled top-level await (exit code 13) instead
 * of exiting 0.
 */
export class WorkerSupervisor<W extends SupervisedWorker> {
  /** Workers forked and not yet exited, with when each started and their slot. */
  readonly #live = new Map<W, { startedAt: number; slot: number }>();
  /** Restarts waiting their delay: they keep the supervisor alive, and a stop cancels them. */
  readonly #restarts = new Set<unknown>();
  readonly #act: SupervisorActions<W>;
  #stopping = false;
  #exitCode = 0;

  constructor(actions: SupervisorActions<W>) {
    this.#act = actions;
  }

  get live(): number {
    return this.#live.size;
  }

  start(count: number): void {
    log('info', 'starting proxy workers', { workers: count });
    for (let i = 0; i < count; i++) this.#fork(i);
  }

  /** Each live worker gets `signal` (SIGHUP: reload the config file). */
  signalAll(signal: NodeJS.Signals): void {
    for (const w of this.#live.keys()) w.process.kill(signal);
  }

  /** Every worker drains and exits; the supervisor exits once the last one has. */
  stop(why: string): void {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const t of this.#restarts) this.#act.clearTimer(t);
    this.#restarts.clear();
    log('info', 'stopping workers', { reason: why, workers: this.#live.size });
    if (this.#live.size === 0) return this.#act.exit(this.#exitCode);
    // Each worker drains its own connections (up to drainTimeoutMs) and exits 0.
    this.signalAll('SIGTERM');
  }

  /** A worker process exited (cluster's 'exit'). */
  exited(w: W, code: number | null, signal: string | null): void {
    const live = this.#live.get(w);
    if (live === undefined) return;
    const { startedAt, slot } = live;
    this.#live.delete(w);
    if (this.#stopping) {
      if (this.#live.size === 0) this.#act.exit(this.#exitCode);
      return;
    }
    if (code === 0 && signal === null) {
      // A worker that drained on request (POST /drain on the shared admin port): the whole proxy stops.
      return this.stop('a worker drained');
    }
    const lived = this.#act.now() - startedAt;
    log('error', 'proxy worker exited', { pid: w.process.pid, code, signal, livedMs: lived });
    if (lived < START_GRACE_MS) {
      this.#exitCode = 1;
      return this.stop('a worker failed to start');
    }
    const t = this.#act.setTimer(() => {
      this.#restarts.delete(t);
      if (!this.#stopping) this.#fork(slot);
    }, RESTART_DELAY_MS);
    this.#restarts.add(t);
  }

  #fork(slot: number): void {
    this.#live.set(this.#act.fork(slot), { startedAt: this.#act.now(), slot });
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
  /** Each worker's slot (the per-worker metrics' label). */
  const slots = new Map<Worker, number>();
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
  const supervisor = new WorkerSupervisor({
    fork: (slot) => {
      const w = cluster.fork();
      slots.set(w, slot);
      return w;
    },
    exit: (code) => process.exit(code),
    now: () => Date.now(),
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: (t) => clearTimeout(t as NodeJS.Timeout),
  });
  cluster.on('exit', (w, code, signal) => {
    // What it held of the shared buckets no longer counts against them; its counters stay in every later scrape.
    slots.delete(w);
    broker.workerExited(w.id);
    metrics.workerExited(w.id);
    supervisor.exited(w, code, signal);
  });
  process.on('SIGTERM', () => supervisor.stop('SIGTERM'));
  process.on('SIGINT', () => supervisor.stop('SIGINT'));
  // SIGHUP reloads the config file: each worker holds its own runtime (and would otherwise see the primary die of it).
  process.on('SIGHUP', () => supervisor.signalAll('SIGHUP'));
  supervisor.start(count);
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
