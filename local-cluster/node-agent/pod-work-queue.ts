// Per-pod serialized work: callers (informer callbacks, container events) only mark a pod dirty and return at once; one worker
// per pod runs the sync function, again if the pod was marked during the run, and never two syncs of one pod at a time.

export class PodWorkQueue {
  readonly #sync: (key: string) => Promise<void>;
  readonly #onError: (key: string, e: unknown) => void;
  readonly #active = new Map<string, Promise<void>>();
  readonly #dirty = new Set<string>();

  constructor(sync: (key: string) => Promise<void>, onError: (key: string, e: unknown) => void) {
    this.#sync = sync;
    this.#onError = onError;
  }

  kick(key: string): void {
    this.#dirty.add(key);
    if (this.#active.has(key)) return;
    const worker = this.#work(key).finally(() => this.#active.delete(key));
    this.#active.set(key, worker);
  }

  async #work(key: string): Promise<void> {
    await Promise.resolve(); // never run the sync inside the caller's stack
    while (this.#dirty.delete(key)) {
      try {
        await this.#sync(key);
      } catch (e) {
        this.#onError(key, e);
      }
    }
  }

  /** Resolves when no pod has pending or running work. */
  async drain(): Promise<void> {
    while (this.#active.size > 0) await Promise.all([...this.#active.values()]);
  }
}
