// skein_policy_events_total: what the policy layers did (retries and why not, ejections, breaker refusals, mirrors), read at scrape time.
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

// Loaded as proxy-metrics.ts loads it (the class alone, not prom-client's index with every default collector).
const requireLib = createRequire(import.meta.url);
const Counter = requireLib('prom-client/lib/counter') as typeof Prom.Counter;

/** One figure: the target (`route:NAME` or `cluster:NAME`), the event, and its running total. */
export type PolicyEvent = readonly [target: string, event: string, value: number];

const registered = new WeakSet<Prom.Registry>();

/**
 * Registers the counter on `registry` once. The layers keep plain numbers (no label lookup on the request path) and
 * `events` turns them into series when Prometheus scrapes.
 */
export function registerPolicyMetrics(registry: Prom.Registry, events: () => Iterable<PolicyEvent>): void {
  if (registered.has(registry)) return;
  registered.add(registry);
  new Counter({
    name: 'skein_policy_events_total',
    help: 'Events of the policy layers by target (route:NAME, cluster:NAME) and event.',
    labelNames: ['target', 'event'],
    registers: [registry],
    collect(this: Prom.Counter<'target' | 'event'>) {
      this.reset();
      for (const [target, event, value] of events()) if (value > 0) this.inc({ target, event }, value);
    },
  });
}
