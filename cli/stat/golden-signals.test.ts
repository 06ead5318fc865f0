// `skein stat` against a fake Prometheus HTTP API on loopback: the queries it sends, the rows it builds from the answers,
// the table and JSON it prints, and a clear error (with its code) for each way Prometheus can fail.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchStat, formatStatTable, statPromql, statQueryProblems, type StatQuery } from './golden-signals.ts';
import { PrometheusError, queryVector } from './prometheus-client.ts';

type Answer = (promql: string) => { status: number; body: string } | 'hang';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A fake Prometheus: records each query and answers through `answer`. */
async function fakePrometheus(answer: Answer): Promise<{ url: string; queries: string[] }> {
  const queries: string[] = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/api/v1/query') return void res.writeHead(404).end('404 page not found\n');
    const q = u.searchParams.get('query') ?? '';
    queries.push(q);
    const a = answer(q);
    if (a === 'hang') return;
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, queries };
}

const vector = (series: [Record<string, string>, number | string][]) =>
  ({ status: 200, body: JSON.stringify({ status: 'success', data: { resultType: 'vector', result: series.map(([metric, v]) => ({ metric, value: [1700000000, String(v)] })) } }) });

const echo = { destination_namespace: 'demo', destination_workload: 'echo' };
const api = { destination_namespace: 'demo', destination_workload: 'api' };

/** Prometheus as it answers for two workloads: echo at 10 req/s with 9.5 ok and known percentiles; api idle (NaN latencies). */
const twoWorkloads: Answer = (q) => {
  if (q.startsWith('histogram_quantile(0.5,')) return vector([[echo, 0.004], [api, 'NaN']]);
  if (q.startsWith('histogram_quantile(0.95,')) return vector([[echo, 0.02]]);
  if (q.startsWith('histogram_quantile(0.99,')) return vector([[echo, 0.25]]);
  if (q.includes('code!~"5.."')) return vector([[echo, 9.5]]);
  return vector([[echo, 10], [api, 0]]);
};

const byWorkload: StatQuery = { by: 'workload', namespace: 'demo', workload: null, window: '1m' };

describe('skein stat', () => {
  it('asks for the server-side golden signals per workload, filtered as told', () => {
    const q = statPromql(byWorkload);
    expect(q.requests).toBe('sum by (destination_namespace, destination_workload) (rate(skein_requests_total{direction="inbound",destination_namespace="demo"}[1m]))');
    expect(q.successes).toBe('sum by (destination_namespace, destination_workload) (rate(skein_requests_total{direction="inbound",destination_namespace="demo",code!~"5..",grpc_status=~"|OK"}[1m]))');
    expect(q.p99).toBe('histogram_quantile(0.99, sum by (le, destination_namespace, destination_workload) (rate(skein_request_duration_seconds_bucket{direction="inbound",destination_namespace="demo"}[1m])))');
    // Routes and edges from the caller's side, which knows both ends and holds the routes.
    expect(statPromql({ by: 'route', namespace: null, workload: 'echo', window: '5m' }).requests).toBe(
      'sum by (destination_namespace, destination_workload, destination_service, route) (rate(skein_requests_total{direction="outbound",destination_workload="echo"}[5m]))',
    );
    expect(statPromql({ by: 'edge', namespace: null, workload: null, window: '1m' }).requests).toBe(
      'sum by (source_namespace, source_workload, destination_namespace, destination_workload) (rate(skein_requests_total{direction="outbound"}[1m]))',
    );
  });

  it('refuses bad input before asking anything, every problem at once (no PromQL injection through a name)', () => {
    expect(statQueryProblems({ by: 'pod' as 'workload', namespace: 'demo"} or vector(1) #', workload: 'Echo', window: '1 minute' })).toEqual([
      '--by must be workload, route or edge, not "pod"',
      '--namespace must be a Kubernetes namespace name, not "demo"} or vector(1) #"',
      'the workload must be a Kubernetes name, not "Echo"',
      '--window must be a Prometheus duration such as 30s, 1m or 1h, not "1 minute"',
    ]);
    expect(statQueryProblems({ by: 'toString' as 'workload', namespace: null, workload: null, window: '1m' })).toHaveLength(1);
    expect(statQueryProblems(byWorkload)).toEqual([]);
  });

  it('builds one row per workload: rate, success share, percentiles in ms; no traffic gives dashes, not NaN', async () => {
    const prom = await fakePrometheus(twoWorkloads);
    const rows = await fetchStat(prom.url, byWorkload);
    expect(prom.queries).toHaveLength(5);
    expect(rows).toEqual([
      { namespace: 'demo', workload: 'api', rps: 0, successRate: null, p50Ms: null, p95Ms: null, p99Ms: null },
      { namespace: 'demo', workload: 'echo', rps: 10, successRate: 0.95, p50Ms: 4, p95Ms: 20, p99Ms: 250 },
    ]);
    expect(formatStatTable('workload', rows)).toBe(
      [
        'NAMESPACE  WORKLOAD  SUCCESS  RPS   LATENCY_P50  LATENCY_P95  LATENCY_P99',
        'demo       api       -        0.0   -            -            -',
        'demo       echo      95.00%   10.0  4.0ms        20ms         250ms',
        '',
      ].join('\n'),
    );
    expect(formatStatTable('workload', [])).toMatch(/^No traffic found/);
  });

  it('edges name the caller and the callee', async () => {
    const edge = { source_namespace: 'demo', source_workload: 'api', ...echo };
    const prom = await fakePrometheus((q) => (q.startsWith('histogram_quantile') ? vector([[edge, 0.001]]) : vector([[edge, 2]])));
    const rows = await fetchStat(prom.url, { by: 'edge', namespace: 'demo', workload: null, window: '1m' });
    expect(rows).toEqual([{ namespace: 'demo', workload: 'echo', from: 'demo/api', rps: 2, successRate: 1, p50Ms: 1, p95Ms: 1, p99Ms: 1 }]);
    expect(formatStatTable('edge', rows).split('\n')[1]).toMatch(/^demo\/api\s+demo\/echo\s+100\.00%\s+2\.0\s+1\.0ms/);
  });

  it('says which way Prometheus failed: unreachable, refusing the query, not Prometheus, too slow', async () => {
    const closed = await fakePrometheus(() => vector([]));
    const deadUrl = closed.url;
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    const code = (p: Promise<unknown>) => p.then(() => 'no error', (e: unknown) => (e instanceof PrometheusError ? `${e.code}: ${e.message}` : String(e)));
    expect(await code(queryVector(deadUrl, 'up'))).toMatch(/^SKEIN_ERR_PROMETHEUS_UNREACHABLE: cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    const refusing = await fakePrometheus(() => ({ status: 400, body: JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 5' }) }));
    expect(await code(queryVector(refusing.url, 'sum(('))).toBe('SKEIN_ERR_PROMETHEUS_QUERY: Prometheus refused the query (bad_data): parse error at char 5');
    const html = await fakePrometheus(() => ({ status: 200, body: '<html>grafana</html>' }));
    expect(await code(queryVector(html.url, 'up'))).toMatch(/^SKEIN_ERR_PROMETHEUS_BAD_ANSWER: .* not Prometheus's API/);
    const matrix = await fakePrometheus(() => ({ status: 200, body: JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }) }));
    expect(await code(queryVector(matrix.url, 'up[1m]'))).toMatch(/^SKEIN_ERR_PROMETHEUS_BAD_ANSWER: .*without a vector result/);
    const hanging = await fakePrometheus(() => 'hang');
    expect(await code(queryVector(hanging.url, 'up', 200))).toBe(`SKEIN_ERR_PROMETHEUS_TIMEOUT: Prometheus at ${hanging.url} did not answer within 200 ms`);
    expect(await code(queryVector('not a url', 'up'))).toMatch(/^SKEIN_ERR_PROMETHEUS_UNREACHABLE: "not a url" is not a URL/);
  });

  it('the command prints the table or JSON, and a one-line error without a stack when Prometheus is away', async () => {
    const prom = await fakePrometheus(twoWorkloads);
    const bin = join(import.meta.dirname, '../../bin/skein.mjs');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, 'stat', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SKEIN_PROMETHEUS_URL: '' } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    const table = await run(['--prometheus', prom.url, '-n', 'demo']);
    expect(table.stdout).toMatch(/^demo\s+echo\s+95\.00%\s+10\.0\s+4\.0ms\s+20ms\s+250ms$/m);
    const json = await run(['--prometheus', prom.url, '-n', 'demo', 'echo', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toContainEqual({ namespace: 'demo', workload: 'echo', rps: 10, successRate: 0.95, p50Ms: 4, p95Ms: 20, p99Ms: 250 });
    expect(prom.queries.at(-1)).toContain('destination_workload="echo"');
    const gone = await fakePrometheus(() => vector([]));
    for (const s of servers.splice(1)) await new Promise((r) => s.close(r));
    const away = await run(['--prometheus', gone.url]);
    expect(away.code).toBe(1);
    expect(away.stderr).toMatch(/^skein: SKEIN_ERR_PROMETHEUS_UNREACHABLE: cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED \(is it running\? give its address with --prometheus <url> or SKEIN_PROMETHEUS_URL\)\n$/);
    const bad = await run(['--by', 'pod', '--window', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--by must be workload, route or edge');
    expect(bad.stderr).toContain('--window must be a Prometheus duration');
  });
});
