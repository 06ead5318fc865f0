// Informer metrics: events counted per resource, lag read from the object's newest write time (only after the first list),
// synced and restarts read at scrape time.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { InformerMetrics, lastWriteMs } from './informer-metrics.ts';

const at = (iso: string) => new Date(iso).getTime();

describe('informer metrics', () => {
  it('takes the newest managedFields time, else the creation time', () => {
    expect(
      lastWriteMs({ metadata: { creationTimestamp: new Date('2026-01-01T00:00:00Z'), managedFields: [{ time: new Date('2026-01-01T00:00:05Z') }, { time: '2026-01-01T00:00:09Z' as unknown as Date }] } }),
    ).toBe(at('2026-01-01T00:00:09Z'));
    expect(lastWriteMs({ metadata: { creationTimestamp: '2026-01-01T00:00:03Z' as unknown as Date } })).toBe(at('2026-01-01T00:00:03Z'));
    expect(lastWriteMs({ metadata: {} })).toBeNull();
    expect(lastWriteMs({ metadata: { creationTimestamp: 'junk' as unknown as Date } })).toBeNull();
  });

  it('observes lag only for adds and updates after the first list, and counts every event', async () => {
    const registry = new Registry();
    const informers = [{ name: 'pods', synced: true, restarts: 2 }, { name: 'httproutes', synced: false, restarts: 0 }];
    const m = new InformerMetrics(registry, () => informers, () => at('2026-01-01T00:00:12Z'));
    const pod = { metadata: { uid: 'p1', managedFields: [{ time: '2026-01-01T00:00:10Z' as unknown as Date }] } };
    m.event('pods', 'add', { metadata: { uid: 'p0', creationTimestamp: '2025-01-01T00:00:00Z' as unknown as Date } }, false); // the first list: an old object
    m.event('pods', 'update', pod, true);
    m.event('pods', 'update', pod, true); // a write that did not date itself: not measured again
    m.event('pods', 'update', { metadata: { uid: 'p0', creationTimestamp: '2025-01-01T00:00:00Z' as unknown as Date } }, true); // likewise for the listed one
    m.event('pods', 'delete', pod, true);
    m.event('pods', 'update', { metadata: { uid: 'p2', managedFields: [{ time: '2026-01-01T00:00:20Z' as unknown as Date }] } }, true); // clock skew: 0, never negative
    const text = await registry.metrics();
    expect(text).toContain('skein_cp_informer_events_total{resource="pods",event="add"} 1');
    expect(text).toContain('skein_cp_informer_events_total{resource="pods",event="update"} 4');
    expect(text).toContain('skein_cp_informer_events_total{resource="pods",event="delete"} 1');
    expect(text).toContain('skein_cp_informer_lag_seconds_count{resource="pods"} 2');
    expect(text).toContain('skein_cp_informer_lag_seconds_sum{resource="pods"} 2');
    expect(text).toContain('skein_cp_informer_lag_seconds_bucket{le="2",resource="pods"} 2');
    expect(text).toContain('skein_cp_informer_lag_seconds_bucket{le="1",resource="pods"} 1');
    expect(text).toContain('skein_cp_informer_synced{resource="pods"} 1');
    expect(text).toContain('skein_cp_informer_synced{resource="httproutes"} 0');
    expect(text).toContain('skein_cp_informer_restarts{resource="pods"} 2');
  });
});
