// Serving metrics from ConfigServer's events: bounded NACK and cut labels, latency by answer, connected read at scrape.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { nackReason, ServingMetrics } from './serving-metrics.ts';

describe('serving metrics', () => {
  it('labels a NACK with the type of its first rejected resource, anything else as other', () => {
    expect(nackReason([{ type: 'route-table' }, { type: 'cluster' }])).toBe('route-table');
    expect(nackReason([{ type: 'something-new' }])).toBe('other');
    expect(nackReason([])).toBe('other');
  });

  it('counts pushes, answers and cuts, and reads the connected count when scraped', async () => {
    const registry = new Registry();
    let connected = 3;
    const m = new ServingMetrics(registry, () => connected);
    const e = m.events();
    e.onPush!('p', { nonce: 'n', version: 'v', resources: [], removed: [] });
    e.onAck!('p', 'v', 20);
    e.onNack!('p', 'v', 2000, [{ type: 'secret', name: 's', path: '', message: 'bad' }]);
    e.onCut!('p', 'SKEIN_ERR_CP_ACK_TIMEOUT');
    e.onCut!('p', 'SKEIN_ERR_SOMETHING_ELSE');
    connected = 5;
    const text = await registry.metrics();
    expect(text).toContain('skein_cp_proxies_connected 5');
    expect(text).toContain('skein_cp_pushes_total 1');
    expect(text).toContain('skein_cp_acks_total 1');
    expect(text).toContain('skein_cp_nacks_total{reason="secret"} 1');
    expect(text).toContain('skein_cp_nacks_total{reason="settings"} 0');
    expect(text).toContain('skein_cp_stream_cuts_total{reason="SKEIN_ERR_CP_ACK_TIMEOUT"} 1');
    expect(text).toContain('skein_cp_stream_cuts_total{reason="other"} 1');
    expect(text).toContain('skein_cp_push_duration_seconds_bucket{le="0.025",result="ack"} 1');
    expect(text).toContain('skein_cp_push_duration_seconds_bucket{le="1",result="nack"} 0');
    expect(text).toContain('skein_cp_push_duration_seconds_bucket{le="2.5",result="nack"} 1');
  });
});
