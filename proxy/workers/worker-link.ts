// A worker process's link to the ingress supervisor: scrapes answered for the whole proxy, and the shared rate limits.
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import { log } from '../log.ts';
import { ACQUIRE_TIMEOUT_MS, LeaseClient } from './leased-bucket.ts';
import { isToWorker, SCRAPE_TIMEOUT_MS, type MetricsResult, type ToSupervisor, type ToWorker } from './worker-messages.ts';
import { RateLimitedLog } from '../telemetry/rate-limited-log.ts';

const Counter = createRequire(import.meta.url)('prom-client/lib/counter') as typeof Prom.Counter;

/** The supervisor answers a scrape by its own deadline; past this one, its silence is a fault and the scrape fails (500). */
const SCRAPE_ANSWER_TIMEOUT_MS = SCRAPE_TIMEOUT_MS + 2_000;

export interface WorkerChannel {
  send(m: ToSupervisor): void;
  onMessage(fn: (m: unknown) => void): void;
}

export class WorkerLink {
  readonly #channel: WorkerChannel;
  #registry: Prom.Registry | null = null;
  readonly #scrapes = new Map<number, (r: MetricsResult | null) => void>();
  #ids = 0;
  readonly #timeouts = new RateLimitedLog();
  #leaseTimeouts = 0;
  /** The rate-limit buckets this worker shares with the others (ProxyRuntime's policy layers take them). */
  readonly rateLimits: LeaseClient;

  constructor(channel: WorkerChannel) {
    this.#channel = channel;
    this.rateLimits = new LeaseClient({
      send: (m) => this.#send(m),
      now: () => performance.now(),
      onTimeout: (bucket, waiting) => {
        this.#leaseTimeouts += waiting;
        this.#timeouts.write('lease', 'warn', 'the worker supervisor did not answer a rate-limit lease in time; the waiting requests were let through', {
          bucket: bucket.split('\u0000').slice(0, -2).join('/'),
          waiting,
          timeoutMs: ACQUIRE_TIMEOUT_MS,
        });
      },
    });
    channel.onMessage((m) => {
      if (isToWorker(m)) this.#receive(m);
    });
  }

  /** Requests let through because the supervisor did not answer a lease in time. */
  get leaseTimeouts(): number {
    return this.#leaseTimeouts;
  }

  #send(m: ToSupervisor): boolean {
    try {
      this.#channel.send(m);
      return true;
    } catch {
      // The channel is closed: the supervisor is gone, and node:cluster ends this worker next.
      return false;
    }
  }

  /** The registry this worker reports; the supervisor asks only once it is set. */
  serve(registry: Prom.Registry): void {
    this.#registry = registry;
    const timeouts = (): number => this.#leaseTimeouts;
    new Counter({
      name: 'skein_rate_limit_lease_timeouts_total',
      help: 'Requests let through by a shared rate limit because the worker supervisor did not answer a lease in time (ingress workers only).',
      registers: [registry],
      collect(this: Prom.Counter) {
        this.reset();
        this.inc(timeouts());
      },
    });
    this.#send({ type: 'skein:worker-ready' });
  }

  /** The whole proxy's metrics (asked of the supervisor, which asks every worker). */
  metricsText(): Promise<{ contentType: string; body: string }> {
    const id = ++this.#ids;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#scrapes.delete(id);
        reject(new Error('the worker supervisor did not answer the scrape'));
      }, SCRAPE_ANSWER_TIMEOUT_MS);
      timer.unref();
      this.#scrapes.set(id, (r) => {
        clearTimeout(timer);
        this.#scrapes.delete(id);
        if (r === null || r.error !== undefined) reject(new Error(r?.error ?? 'no answer'));
        else resolve({ contentType: r.contentType, body: r.body });
      });
      if (!this.#send({ type: 'skein:metrics-scrape', id })) this.#scrapes.get(id)?.(null);
    });
  }

  #receive(m: ToWorker): void {
    switch (m.type) {
      case 'skein:lease-grant':
        return this.rateLimits.granted(m);
      case 'skein:metrics-result':
        return this.#scrapes.get(m.id)?.(m);
      case 'skein:metrics-collect': {
        const registry = this.#registry;
        if (registry === null) return;
        registry.getMetricsAsJSON().then(
          (metrics) => void this.#send({ type: 'skein:metrics-collected', id: m.id, metrics }),
          (e: unknown) => log('warn', 'metrics collection failed', { error: String(e) }),
        );
        return;
      }
    }
  }
}

/** The link of this process, a node:cluster worker, over its IPC channel. */
export function connectToSupervisor(): WorkerLink {
  return new WorkerLink({
    send: (m) => {
      if (process.send === undefined || !process.connected) throw new Error('no channel to the supervisor');
      // With a callback a failed send is reported there, not as an 'error' event on the process.
      process.send(m, () => {});
    },
    onMessage: (fn) => process.on('message', fn),
  });
}
