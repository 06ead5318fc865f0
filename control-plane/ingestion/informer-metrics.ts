// Ingestion's metrics: events per informer, how far behind the API server an event arrives (informer lag), whether each
// informer has listed, and its restarts. The lag is read from the object's own write times, so it needs no extra call.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { KubernetesObject } from '@kubernetes/client-node';

export type InformerEvent = 'add' | 'update' | 'delete';

/** What an informer reports; RestartingInformer calls it (never throwing into the informer). */
export interface InformerObserver {
  event(resource: string, event: InformerEvent, obj: KubernetesObject | undefined, synced: boolean): void;
}

export class InformerMetrics implements InformerObserver {
  readonly events: Counter<'resource' | 'event'>;
  readonly lag: Histogram<'resource'>;
  readonly #now: () => number;
  /**
   * Each object's newest write time seen so far: some writes bump the resourceVersion without dating themselves in
   * managedFields (an apply that changes no owned field), and such an update would read as the object's age. Only a write
   * time that moved forward is a new write to measure. One number per cached object.
   */
  readonly #lastWrite = new Map<string, number>();

  /** `informers` is read at scrape time: name -> synced and restart count. */
  constructor(registry: Registry, informers: () => readonly { readonly name: string; readonly synced: boolean; readonly restarts: number }[], now: () => number = Date.now) {
    this.#now = now;
    this.events = new Counter({ name: 'skein_cp_informer_events_total', help: 'Watch events received, by resource and event (add, update, delete)', labelNames: ['resource', 'event'], registers: [registry] });
    this.lag = new Histogram({
      name: 'skein_cp_informer_lag_seconds',
      help: 'Time from the API server writing an object to its watch event reaching the control plane (adds and updates after the first list; 1 s resolution)',
      labelNames: ['resource'],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    new Gauge({
      name: 'skein_cp_informer_synced',
      help: 'Whether the informer has listed its resource (1) or is still trying (0)',
      labelNames: ['resource'],
      registers: [registry],
      collect() {
        for (const i of informers()) this.labels(i.name).set(i.synced ? 1 : 0);
      },
    });
    new Gauge({
      name: 'skein_cp_informer_restarts',
      help: 'Times the informer was restarted after its watch failed (since this replica started)',
      labelNames: ['resource'],
      registers: [registry],
      collect() {
        for (const i of informers()) this.labels(i.name).set(i.restarts);
      },
    });
  }

  event(resource: string, event: InformerEvent, obj: KubernetesObject | undefined, synced: boolean): void {
    this.events.labels(resource, event).inc();
    if (!obj) return;
    const key = `${resource}/${obj.metadata?.uid ?? `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`}`;
    if (event === 'delete') {
      this.#lastWrite.delete(key);
      return;
    }
    const written = lastWriteMs(obj);
    if (written === null) return;
    const previous = this.#lastWrite.get(key);
    this.#lastWrite.set(key, Math.max(written, previous ?? written));
    // The first list replays objects written long ago: their age is not lag; nor is an update that carries no newer write time.
    if (!synced || (previous !== undefined && written <= previous)) return;
    this.lag.labels(resource).observe(Math.max(0, this.#now() - written) / 1000);
  }
}

/**
 * When the API server last wrote the object: the newest managedFields time (every write records one), else its creation.
 * Whole seconds (the API's precision), so a lag reads up to 1 s high, never low. Null when the object carries neither.
 */
export function lastWriteMs(obj: KubernetesObject): number | null {
  let newest: number | null = null;
  const consider = (t: unknown): void => {
    if (t === undefined || t === null) return;
    const ms = new Date(t as string | Date).getTime();
    if (Number.isFinite(ms) && (newest === null || ms > newest)) newest = ms;
  };
  for (const f of obj.metadata?.managedFields ?? []) consider(f.time);
  if (newest === null) consider(obj.metadata?.creationTimestamp);
  return newest;
}
