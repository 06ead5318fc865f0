// The dashboard check's parsing (which metrics and labels a query names, how variables expand) and the shipped
// dashboards themselves: generated from scripts/gen-dashboards.ts (never stale), every panel has a query naming skein metrics.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProxyMetrics, REQUEST_LABELS, TCP_LABELS } from '../proxy/telemetry/proxy-metrics.ts';
import { dashboardFiles, DASHBOARDS_DIR } from '../scripts/gen-dashboards.ts';
import { dashboardProblems, dashboardQueries, expandVariables, promqlNames } from './dashboard-check.ts';

describe('dashboard check', () => {
  it('finds the metrics and labels a query names, in matchers and in by clauses', () => {
    expect(promqlNames('histogram_quantile(0.99, sum by (le, destination_workload) (rate(skein_request_duration_seconds_bucket{direction="inbound",code!~"5.."}[1m])))')).toEqual({
      metrics: ['skein_request_duration_seconds_bucket'],
      labels: ['direction', 'code', 'le', 'destination_workload'],
    });
    expect(promqlNames('label_values(skein_requests_total{direction="inbound"}, destination_namespace)').labels).toEqual(['direction', 'destination_namespace']);
    expect(promqlNames('min(skein_cp_ca_expiry_timestamp_seconds) - time()')).toEqual({ metrics: ['skein_cp_ca_expiry_timestamp_seconds'], labels: [] });
  });

  it('expands Grafana variables as a run over everything would', () => {
    expect(expandVariables('rate(x{a=~"$namespace",pod=~"$workload-.*"}[$__rate_interval])')).toBe('rate(x{a=~".*",pod=~".*-.*"}[1m])');
  });

  it('the shipped dashboards are what scripts/gen-dashboards.ts makes', () => {
    const files = dashboardFiles();
    expect([...files.keys()].sort()).toEqual(readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json')).sort());
    for (const [name, text] of files) expect(readFileSync(join(DASHBOARDS_DIR, name), 'utf8'), `${name} is stale: run node scripts/gen-dashboards.ts`).toBe(text);
  });

  it('reads every panel and variable query of the four dashboards, each naming a skein metric', () => {
    const queries = dashboardQueries(DASHBOARDS_DIR);
    const dashboards = new Set(queries.map((q) => q.where.split(' / ')[0]));
    expect([...dashboards].sort()).toEqual(['skein-control-plane.json', 'skein-mesh.json', 'skein-service.json', 'skein-workload.json']);
    expect(queries.filter((q) => q.labelValues).length).toBe(4);
    for (const q of queries) expect(promqlNames(q.expr).metrics.length, q.where).toBeGreaterThan(0);
  });

  it('names only metrics and labels the proxy exports, TCP panels included (offline; the demo runs them against Prometheus)', () => {
    const registry = new ProxyMetrics().registry;
    // Labels Prometheus adds to every sidecar's series (manifests/observability/prometheus-scrape-configs.yaml), and `le`.
    const scrape = ['namespace', 'pod', 'app', 'job', 'instance', 'le'];
    const labelsOf = (metric: string): readonly string[] => (metric.startsWith('skein_tcp_') ? TCP_LABELS : REQUEST_LABELS);
    const proxyQueries = dashboardQueries(DASHBOARDS_DIR).filter((q) => /skein_(requests?|response|tcp)_/.test(q.expr));
    const problems: string[] = [];
    for (const q of proxyQueries) {
      const { metrics, labels } = promqlNames(q.expr);
      for (const m of metrics) if (!registry.getSingleMetric(m.replace(/_bucket$/, ''))) problems.push(`${q.where}: ${m} is not a proxy metric`);
      const unknown = labels.filter((l) => !scrape.includes(l) && !metrics.every((m) => labelsOf(m).includes(l)));
      if (unknown.length > 0) problems.push(`${q.where}: ${unknown.join(', ')} not labels of ${metrics.join(', ')}`);
    }
    expect(problems).toEqual([]);
    // Connections opened and closed, bytes both ways: each TCP counter has a panel.
    const tcp = new Set(proxyQueries.flatMap((q) => promqlNames(q.expr).metrics.filter((m) => m.startsWith('skein_tcp_'))));
    expect([...tcp].sort()).toEqual(['skein_tcp_connections_closed_total', 'skein_tcp_connections_opened_total', 'skein_tcp_received_bytes_total', 'skein_tcp_sent_bytes_total']);
  });

  it('lists a panel whose query returns no series as empty (what the observability e2e requires to be none)', async () => {
    // A stand-in Prometheus: every metric has a series with every label; one panel's query alone answers nothing.
    const silent = 'TCP connections opened by caller';
    const queries = dashboardQueries(DASHBOARDS_DIR);
    const silentExpr = expandVariables(queries.find((q) => q.where.endsWith(` / ${silent}`))!.expr);
    const server = createServer((req, res) => {
      const u = new URL(req.url!, 'http://x');
      const allLabels = Object.fromEntries(['__name__', ...REQUEST_LABELS, ...TCP_LABELS, 'code', 'grpc_status', 'reason', 'result', 'resource', 'pod', 'namespace'].map((l) => [l, 'x']));
      const data = u.pathname.endsWith('/series') ? [allLabels] : { result: u.searchParams.get('query') === silentExpr ? [] : [{ metric: {}, value: [0, '1'] }] };
      res.setHeader('content-type', 'application/json').end(JSON.stringify({ status: 'success', data }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { problems, empty } = await dashboardProblems(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, queries);
      expect(problems).toEqual([]);
      expect(empty).toEqual([`skein-mesh.json / ${silent}`]);
    } finally {
      server.close();
    }
  });
});
