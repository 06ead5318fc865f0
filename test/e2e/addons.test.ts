// e2e: the demo addons: Jaeger (OTLP in, query API out, memory storage) and Prometheus (scrapes itself, discovers pods via the API).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJaeger, type JaegerAddon } from '../../local-cluster/addons/jaeger.ts';
import { startPrometheus, type PrometheusAddon } from '../../local-cluster/addons/prometheus.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { processAlive, waitFor } from './wait-for.ts';

describe('demo addons', () => {
  let cluster: LocalClusterDetails;
  let jaeger: JaegerAddon;
  let prom: PrometheusAddon;
  const dir = mkdtempSync(join(tmpdir(), 'skein-addons-'));
  const lines: string[] = [];
  const log = (l: string): void => {
    lines.push(l);
  };

  beforeAll(async () => {
    cluster = await startLocalCluster({ withNodeAgent: false, log });
    [jaeger, prom] = await Promise.all([startJaeger({ workDir: dir, log }), startPrometheus({ workDir: dir, kubeconfigPath: cluster.kubeconfigPath, log })]);
  });

  afterAll(async () => {
    await Promise.allSettled([jaeger?.stop(), prom?.stop()]);
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Jaeger accepts a span over OTLP/HTTP and returns it from the query API', async () => {
    const traceId = randomBytes(16).toString('hex');
    const now = BigInt(Date.now()) * 1_000_000n;
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'skein-e2e' } }] },
          scopeSpans: [
            {
              scope: { name: 'e2e' },
              spans: [{ traceId, spanId: randomBytes(8).toString('hex'), name: 'GET /hello', kind: 2, startTimeUnixNano: String(now), endTimeUnixNano: String(now + 5_000_000n) }],
            },
          ],
        },
      ],
    };
    const res = await fetch(`http://127.0.0.1:${jaeger.otlpHttpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const trace = await waitFor('the trace in Jaeger', async () => {
      const r = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`);
      if (!r.ok) return undefined;
      const j = (await r.json()) as { data?: { traceID: string; spans: { operationName: string }[] }[] };
      return j.data?.[0];
    }, 30_000);
    expect(trace.traceID).toBe(traceId);
    expect(trace.spans.map((s) => s.operationName)).toEqual(['GET /hello']);
  });

  it('Prometheus scrapes itself and runs Kubernetes pod discovery against the local cluster without errors', async () => {
    const up = await waitFor('up{job="prometheus"} == 1', async () => {
      const r = (await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent('up{job="prometheus"}')}`)).json()) as {
        data: { result: { value: [number, string] }[] };
      };
      return r.data.result[0]?.value[1] === '1' ? true : undefined;
    }, 60_000);
    expect(up).toBe(true);
    const metrics = await (await fetch(`${prom.url}/metrics`)).text();
    // The pod discovery connected to our API server with the admin kubeconfig: it counts events, and no failures.
    expect(metrics).toMatch(/prometheus_sd_kubernetes_events_total\{[^}]*role="pod"[^}]*\} /);
    const failures = [...metrics.matchAll(/^prometheus_sd_kubernetes_failures_total (\d+)/gm)].map((m) => Number(m[1]));
    expect(failures.every((n) => n === 0)).toBe(true);
  });

  it('stopping the addons ends their processes', async () => {
    expect(processAlive(jaeger.pid) && processAlive(prom.pid)).toBe(true);
    await Promise.all([jaeger.stop(), prom.stop()]);
    expect(processAlive(jaeger.pid) || processAlive(prom.pid)).toBe(false);
    const r = await fetch(`${prom.url}/-/ready`).then(() => 'answered', () => 'refused');
    expect(r).toBe('refused');
    const q = await fetch(`${jaeger.queryUrl}/api/services`).then(() => 'answered', () => 'refused');
    expect(q).toBe('refused');
  });
});
