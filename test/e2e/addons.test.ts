// e2e: the demo addons: Jaeger (OTLP in, query API out, memory storage) and Prometheus (scrapes itself, discovers pods via the API).
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

  it('Prometheus scrapes itself and the annotated running pods it finds through the cluster API', async () => {
    const query = async (q: string): Promise<string | undefined> => {
      const r = (await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as {
        data: { result: { value: [number, string] }[] };
      };
      return r.data.result[0]?.value[1];
    };
    expect(await waitFor('up{job="prometheus"} == 1', async () => ((await query('up{job="prometheus"}')) === '1' ? true : undefined), 60_000)).toBe(true);

    // A "pod" whose metrics endpoint is this test's own server: the status says Running at 127.0.0.1 (no node agent here).
    const metrics = createServer((req, res) => {
      res.writeHead(req.url === '/custom-metrics' ? 200 : 404, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(req.url === '/custom-metrics' ? 'skein_e2e_answer 42\n' : '');
    });
    await new Promise<void>((r) => metrics.listen(0, '127.0.0.1', r));
    try {
      const port = (metrics.address() as AddressInfo).port;
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(cluster.kubeconfigPath);
      const core = kc.makeApiClient(k8s.CoreV1Api);
      await waitFor('the default ServiceAccount', async () => core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }));
      await core.createNamespacedPod({
        namespace: 'default',
        body: {
          metadata: {
            name: 'scrape-me',
            labels: { app: 'scrape-me' },
            annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/custom-metrics' },
          },
          spec: { containers: [{ name: 'c', image: 'example/none:1' }] },
        },
      });
      // The scheduler updates the pod's conditions meanwhile: retry on a conflict with the latest version.
      await waitFor('the pod status written', async () => {
        const latest = await core.readNamespacedPod({ name: 'scrape-me', namespace: 'default' });
        return core.replaceNamespacedPodStatus({
          name: 'scrape-me',
          namespace: 'default',
          body: { ...latest, status: { ...latest.status, phase: 'Running', podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }] } },
        });
      }, 20_000);
      const v = await waitFor('skein_e2e_answer scraped', async () => query('skein_e2e_answer{job="kubernetes-pods",pod="scrape-me",namespace="default",app="scrape-me"}'), 60_000);
      expect(v).toBe('42');
    } finally {
      metrics.close();
    }
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
