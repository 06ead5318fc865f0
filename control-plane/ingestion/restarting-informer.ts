// Keeps one client-node informer alive: client-node relists by itself on 410 Gone and on watch timeouts, but any other
// failure (API server restarting, connection refused, a CRD not installed yet) stops it; this restarts it with backoff
// and jitter, and resumes from its last resourceVersion (a relist when that has expired).
import type { Informer, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import type { InformerEvent, InformerObserver } from './informer-metrics.ts';

export interface RestartingInformerOptions {
  readonly name: string;
  /** Called (never awaited) on every add, update and delete: it must only enqueue. */
  readonly onChange: () => void;
  readonly log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /** Metrics: told of every event (with whether the first list had completed). */
  readonly observer?: InformerObserver;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly random?: () => number;
}

export class RestartingInformer<T extends KubernetesObject> {
  readonly #informer: Informer<T> & ObjectCache<T>;
  readonly #opts: RestartingInformerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #stopped = false;
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  restarts = 0;
  lastError = '';

  constructor(informer: Informer<T> & ObjectCache<T>, opts: RestartingInformerOptions) {
    this.#informer = informer;
    this.#opts = opts;
    const changed = (event: InformerEvent) => (obj: T): void => {
      this.#failures = 0;
      try {
        opts.observer?.event(opts.name, event, obj, this.#synced);
      } catch {
        // Metrics never break ingestion.
      }
      opts.onChange();
    };
    informer.on('add', changed('add'));
    informer.on('update', changed('update'));
    informer.on('delete', changed('delete'));
    informer.on('connect', () => {
      // connect fires before the (re)list: a list that then succeeds is marked by the first event or by start() resolving
    });
    informer.on('error', (e: unknown) => this.#failed(e));
  }

  /** Starts watching; resolves once the first list succeeded (retrying failures meanwhile). */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#run();
    if (!this.#synced) await new Promise<void>((r) => this.#syncWaiters.push(r));
  }

  #run(): void {
    if (this.#stopped) return;
    this.#informer.start().then(
      () => {
        if (this.#stopped) return;
        // start() resolves after the list and the watch request; an error during it was reported through 'error'.
        if (!this.#synced && this.#timer === undefined) {
          this.#synced = true;
          for (const w of this.#syncWaiters.splice(0)) w();
          this.#opts.onChange();
        }
      },
      (e: unknown) => this.#failed(e),
    );
  }

  #failed(e: unknown): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.lastError = (e as Error)?.message ?? String(e);
    const ceiling = Math.min(this.#opts.maxDelayMs ?? 30_000, (this.#opts.baseDelayMs ?? 500) * 2 ** Math.min(this.#failures, 20));
    const delay = Math.round(ceiling * (0.5 + 0.5 * (this.#opts.random ?? Math.random)()));
    this.#failures++;
    this.#opts.log?.('warn', 'watch failed; restarting', { resource: this.#opts.name, error: this.lastError, inMs: delay });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.restarts++;
      this.#run();
    }, delay);
  }

  list(): readonly T[] {
    return this.#informer.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#informer.get(name, namespace);
  }

  get name(): string {
    return this.#opts.name;
  }

  get synced(): boolean {
    return this.#synced;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#syncWaiters.splice(0)) w();
    await this.#informer.stop();
  }
}
