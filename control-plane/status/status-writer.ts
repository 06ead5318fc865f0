// Writes status while this replica holds the Lease, off the informer callbacks: a change only marks the writer dirty and
// arms a short timer; a pass computes the desired statuses from the caches and writes only those that differ, one at a
// time. A write that lost a race (409) or failed is retried by a later pass; nothing here blocks ingestion or serving.
// The same loop keeps other objects the leader owns (the per-Gateway Services: a type parameter says what it writes).
import type { MeshInputs } from '../translation/mesh-inputs.ts';
import type { StatusUpdate } from './desired-status.ts';

export type StatusWriteResult = 'ok' | 'conflict' | 'gone';
export type StatusWrite<U = StatusUpdate> = (u: U) => Promise<StatusWriteResult>;

/** What the log names of a write. */
interface Named {
  readonly plural: string;
  readonly namespace: string;
  readonly name: string;
}

export interface StatusWriterOptions<U extends Named = StatusUpdate> {
  readonly inputs: () => MeshInputs;
  /** Every status computation (TrafficPolicy, routes): inputs in, the updates that differ out. */
  readonly compute: readonly ((inputs: MeshInputs, nowMs: number) => U[])[];
  readonly write: StatusWrite<U>;
  /** Quiet time after a change before a pass (folds a burst of events into one pass). */
  readonly debounceMs?: number;
  /** A pass that hit a conflict or failure runs again after this long, even without a new change. */
  readonly retryMs?: number;
  readonly now?: () => number;
  readonly log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

export class StatusWriter<U extends Named = StatusUpdate> {
  readonly #o: StatusWriterOptions<U>;
  #leading = false;
  #stopped = false;
  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pass: Promise<void> | null = null;
  writes = 0;
  conflicts = 0;
  failures = 0;
  passes = 0;

  constructor(opts: StatusWriterOptions<U>) {
    this.#o = opts;
  }

  /** From informer callbacks: cheap, never blocks. */
  changed(): void {
    this.#dirty = true;
    this.#arm(this.#o.debounceMs ?? 200);
  }

  /** From the Lease elector. Taking the Lease starts a full pass (another replica may have left things half done). */
  setLeading(v: boolean): void {
    this.#leading = v;
    if (v) this.changed();
  }

  get leading(): boolean {
    return this.#leading;
  }

  #arm(ms: number): void {
    if (this.#stopped || !this.#leading) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#pass === null) this.#pass = this.#run().finally(() => (this.#pass = null));
      // A pass in progress sees #dirty when it ends and arms again.
    }, ms);
  }

  async #run(): Promise<void> {
    let again = false;
    while (this.#dirty && this.#leading && !this.#stopped) {
      this.#dirty = false;
      this.passes++;
      let updates: U[] = [];
      try {
        const inputs = this.#o.inputs();
        const now = (this.#o.now ?? Date.now)();
        updates = this.#o.compute.flatMap((c) => c(inputs, now));
      } catch (e) {
        this.#o.log?.('warn', 'status computation failed', { error: (e as Error).message });
      }
      for (const u of updates) {
        if (!this.#leading || this.#stopped) return;
        try {
          const r = await this.#o.write(u);
          if (r === 'ok') this.writes++;
          else if (r === 'conflict') {
            this.conflicts++;
            again = true;
          }
        } catch (e) {
          this.failures++;
          again = true;
          this.#o.log?.('warn', 'status write failed; retrying later', { object: `${u.plural}/${u.namespace}/${u.name}`, error: (e as Error).message });
        }
      }
    }
    if (again) {
      this.#dirty = true;
      this.#arm(this.#o.retryMs ?? 2000);
    }
  }

  /** Resolves when no pass is running or armed (tests). */
  async idle(): Promise<void> {
    while (this.#pass !== null) await this.#pass;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
