// The proxy's process metrics keep prom-client's default names (minus the per-GC histogram) without loading all of prom-client.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PROCESS_METRIC_PREFIX, ProxyMetrics } from './proxy-metrics.ts';

const names = async (r: Registry): Promise<string[]> => (await r.getMetricsAsJSON()).map((m) => m.name).sort();

describe('ProxyMetrics process metrics', () => {
  it('are prom-client\'s default metrics under skein_proxy_, except nodejs_gc_duration_seconds', async () => {
    const reference = new Registry();
    collectDefaultMetrics({ register: reference, prefix: PROCESS_METRIC_PREFIX });
    const expected = (await names(reference)).filter((n) => n !== `${PROCESS_METRIC_PREFIX}nodejs_gc_duration_seconds`);
    const metrics = new ProxyMetrics();
    const ours = (await names(metrics.registry)).filter((n) => n.startsWith(PROCESS_METRIC_PREFIX) && n !== 'skein_proxy_errors_total');
    expect(ours).toEqual(expected);
    expect(ours).toContain('skein_proxy_process_cpu_seconds_total');
    expect(ours).toContain('skein_proxy_process_resident_memory_bytes');
    expect(ours).toContain('skein_proxy_process_open_fds');
  });

  it('counts CPU time and reports RSS', async () => {
    const metrics = new ProxyMetrics();
    const t = Date.now();
    while (Date.now() - t < 30) Math.sqrt(t);
    // One scrape: every collector runs once.
    const scrape = await metrics.registry.getMetricsAsJSON();
    const value = (name: string): number => Number(scrape.find((x) => x.name === name)?.values[0]?.value ?? NaN);
    const cpu = value('skein_proxy_process_cpu_seconds_total');
    expect(cpu).toBeGreaterThan(0);
    expect(value('skein_proxy_process_cpu_user_seconds_total') + value('skein_proxy_process_cpu_system_seconds_total')).toBeCloseTo(cpu, 6);
    expect(value('skein_proxy_process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('loads neither prom-client\'s index nor @opentelemetry/api', () => {
    const file = join(import.meta.dirname, 'proxy-metrics.ts');
    const code = `import { createRequire } from 'node:module'; const { ProxyMetrics } = await import(${JSON.stringify(file)}); await new ProxyMetrics().registry.metrics();
      const loaded = Object.keys(createRequire(import.meta.url).cache); console.log(JSON.stringify({ n: loaded.length, bad: loaded.filter((k) => /opentelemetry|prom-client\\/index\\.js/.test(k)) }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', cwd: import.meta.dirname });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { n: number; bad: string[] };
    expect(out.n).toBeGreaterThan(5);
    expect(out.bad).toEqual([]);
  });
});

describe('docs/metrics.md', () => {
  it('documents every metric the proxy registers, and every request and TCP label', async () => {
    const { readFileSync } = await import('node:fs');
    const { REQUEST_LABELS, TCP_LABELS } = await import('./proxy-metrics.ts');
    const md = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
    const metrics = new ProxyMetrics();
    const missing = (await metrics.registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((n) => !n.startsWith(PROCESS_METRIC_PREFIX) || n === 'skein_proxy_errors_total')
      .filter((n) => !md.includes(`\`${n}\``));
    expect(missing).toEqual([]);
    for (const l of [...REQUEST_LABELS, ...TCP_LABELS]) expect(md, l).toContain(`\`${l}\``);
  });
});
