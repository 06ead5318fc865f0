// Leader election over one coordination.k8s.io Lease, as client-go's leaderelection does it: the holder renews every
// retry period; another replica takes the Lease only once it has seen the same record unchanged for a whole lease
// duration (by its own clock, so clock skew between nodes does not matter); writes are optimistic (resourceVersion),
// so two replicas can never both win one round. The holder releases the Lease when it stops, for a quick hand-over.

/** The Lease as the elector reads and writes it (times in epoch ms; the store converts to MicroTime). */
export interface LeaseRecord {
  readonly holder: string;
  readonly leaseDurationMs: number;
  readonly acquireTime: number;
  readonly renewTime: number;
  readonly transitions: number;
  /** Opaque optimistic-concurrency token (metadata.resourceVersion); absent on create. */
  readonly version?: string;
}

/** Where the Lease lives; a write that lost a race answers 'conflict' (HTTP 409), other failures throw. */
export interface LeaseStore {
  get(): Promise<LeaseRecord | null>;
  create(r: LeaseRecord): Promise<LeaseRecord | 'conflict'>;
  update(r: LeaseRecord): Promise<LeaseRecord | 'conflict'>;
}

export interface LeaseElectorOptions {
  readonly store: LeaseStore;
  readonly identity: string;
  /** How long a Lease not renewed stays with its holder (client-go's default 15 s). */
  readonly leaseDurationMs?: number;
  /** A leader that could not renew for this long steps down (10 s). */
  readonly renewDeadlineMs?: number;
  /** How often every replica tries to acquire or renew (2 s). */
  readonly retryPeriodMs?: number;
  readonly now?: () => number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

export class LeaseElector {
  readonly #o: Required<Omit<LeaseElectorOptions, 'log'>> & Pick<LeaseElectorOptions, 'log'>;
  #leading = false;
  #stopped = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | null = null;
  /** The last record seen, and when (local clock) it last changed. */
  #observed: LeaseRecord | null = null;
  #observedAt = 0;
  #lastRenew = 0;

  constructor(opts: LeaseElectorOptions) {
    this.#o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      now: Date.now,
      ...opts,
    };
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** The holder this replica last saw ('' when none), for the debug endpoint. */
  get observedHolder(): string {
    return this.#observed?.holder ?? '';
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#tick();
  }

  /** Stops trying; a leader steps down and releases the Lease so that another replica takes it at its next try. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
    if (this.#leading) {
      this.#setLeading(false);
      const cur = this.#observed;
      if (cur && cur.holder === this.#o.identity) {
        try {
          await this.#o.store.update({ ...cur, holder: '', leaseDurationMs: 1000, renewTime: this.#o.now() });
        } catch (e) {
          this.#o.log?.('warn', 'could not release the status Lease', { error: (e as Error).message });
        }
      }
    }
  }

  #tick(): void {
    if (this.#stopped) return;
    this.#running = this.#round()
      .catch((e: unknown) => this.#o.log?.('warn', 'status Lease round failed', { error: (e as Error)?.message ?? String(e) }))
      .finally(() => {
        this.#running = null;
        if (this.#leading && this.#o.now() - this.#lastRenew > this.#o.renewDeadlineMs) {
          this.#o.log?.('warn', 'could not renew the status Lease in time; stepping down', { identity: this.#o.identity });
          this.#setLeading(false);
        }
        if (!this.#stopped) this.#timer = setTimeout(() => this.#tick(), this.#o.retryPeriodMs);
      });
  }

  #observe(r: LeaseRecord | null): void {
    const prev = this.#observed;
    if (r === null || prev === null || prev.holder !== r.holder || prev.renewTime !== r.renewTime || prev.version !== r.version) this.#observedAt = this.#o.now();
    this.#observed = r;
  }

  async #round(): Promise<void> {
    const { store, identity, leaseDurationMs } = this.#o;
    const now = this.#o.now();
    const current = await store.get();
    this.#observe(current);
    if (current === null) {
      const made = await store.create({ holder: identity, leaseDurationMs, acquireTime: now, renewTime: now, transitions: 0 });
      return this.#won(made);
    }
    const mine = current.holder === identity;
    const free = current.holder === '' || this.#observedAt + current.leaseDurationMs <= now;
    if (!mine && !free) {
      if (this.#leading) this.#setLeading(false);
      return;
    }
    const next: LeaseRecord = mine
      ? { ...current, leaseDurationMs, renewTime: now }
      : { ...current, holder: identity, leaseDurationMs, acquireTime: now, renewTime: now, transitions: current.transitions + 1 };
    this.#won(await store.update(next));
  }

  #won(r: LeaseRecord | 'conflict'): void {
    if (r === 'conflict') return; // someone else wrote first; the next round reads who
    this.#observe(r);
    this.#lastRenew = this.#o.now();
    if (!this.#leading) this.#setLeading(true);
  }

  #setLeading(v: boolean): void {
    this.#leading = v;
    this.#o.log?.('info', v ? 'holding the status Lease: this replica writes status' : 'no longer holding the status Lease', { identity: this.#o.identity });
    try {
      if (v) this.#o.onStartedLeading();
      else this.#o.onStoppedLeading();
    } catch (e) {
      this.#o.log?.('warn', 'leadership callback failed', { error: (e as Error).message });
    }
  }
}
