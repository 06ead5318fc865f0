// `skein stat`'s model: the PromQL for the golden signals (request rate, success rate, latency percentiles) grouped per
// workload, per route or per caller -> callee edge, and the rows built from their answers.
import { queryVector, type Sample } from './prometheus-client.ts';

export type StatGrouping = 'workload' | 'route' | 'edge';

export interface StatQuery {
  readonly by: StatGrouping;
  /** Only this destination namespace; null for all. */
  readonly namespace: string | null;
  /** Only this destination workload; null for all. */
  readonly workload: string | null;
  /** The rate window, a Prometheus duration (`1m`). */
  readonly window: string;
}

export interface StatRow {
  readonly namespace: string;
  /** By workload and route: the destination workload. By edge: the callee. */
  readonly workload: string;
  /** By route: the route's name; by edge: the caller (`namespace/workload`). Absent by workload. */
  readonly route?: string;
  readonly service?: string;
  readonly from?: string;
  /** Requests per second over the window. */
  readonly rps: number;
  /** Share of requests that succeeded (0-1): not a 5xx, and for gRPC a status OK. Null without requests. */
  readonly successRate: number | null;
  /** Latency percentiles in milliseconds; null without requests. */
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
}

// Which side reports: the server's sidecar (inbound) for workloads, the client's (outbound) for routes, which exist only
// on the caller's side, and for edges, since the client knows both ends even without mTLS.
const GROUPING: Record<StatGrouping, { direction: string; labels: readonly string[] }> = {
  workload: { direction: 'inbound', labels: ['destination_namespace', 'destination_workload'] },
  route: { direction: 'outbound', labels: ['destination_namespace', 'destination_workload', 'destination_service', 'route'] },
  edge: { direction: 'outbound', labels: ['source_namespace', 'source_workload', 'destination_namespace', 'destination_workload'] },
};

/** A success: not a 5xx, and a gRPC call only when its status is OK (a plain HTTP request has grpc_status=""). */
const SUCCESS = 'code!~"5..",grpc_status=~"|OK"';

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DURATION = /^[1-9][0-9]{0,5}(ms|s|m|h|d)$/;

/** Problems with the command's input, all at once (each names its flag); empty when it is valid. */
export function statQueryProblems(q: StatQuery): string[] {
  const problems: string[] = [];
  if (!Object.hasOwn(GROUPING, q.by)) problems.push(`--by must be workload, route or edge, not "${q.by}"`);
  if (q.namespace !== null && !NAME.test(q.namespace)) problems.push(`--namespace must be a Kubernetes namespace name, not "${q.namespace}"`);
  if (q.workload !== null && !NAME.test(q.workload)) problems.push(`the workload must be a Kubernetes name, not "${q.workload}"`);
  if (!DURATION.test(q.window)) problems.push(`--window must be a Prometheus duration such as 30s, 1m or 1h, not "${q.window}"`);
  return problems;
}

/** The five queries, keyed by signal. The input must have passed statQueryProblems (names are not escaped further). */
export function statPromql(q: StatQuery): Record<'requests' | 'successes' | 'p50' | 'p95' | 'p99', string> {
  const g = GROUPING[q.by];
  const filter = [`direction="${g.direction}"`, ...(q.namespace !== null ? [`destination_namespace="${q.namespace}"`] : []), ...(q.workload !== null ? [`destination_workload="${q.workload}"`] : [])].join(',');
  const by = g.labels.join(', ');
  const quantile = (x: number): string => `histogram_quantile(${x}, sum by (le, ${by}) (rate(skein_request_duration_seconds_bucket{${filter}}[${q.window}])))`;
  return {
    requests: `sum by (${by}) (rate(skein_requests_total{${filter}}[${q.window}]))`,
    successes: `sum by (${by}) (rate(skein_requests_total{${filter},${SUCCESS}}[${q.window}]))`,
    p50: quantile(0.5),
    p95: quantile(0.95),
    p99: quantile(0.99),
  };
}

/** Joins the five answers into one row per group (the request-rate answer decides which groups exist), sorted. */
export function statRows(by: StatGrouping, answers: Record<keyof ReturnType<typeof statPromql>, readonly Sample[]>): StatRow[] {
  const labels = GROUPING[by].labels;
  const key = (s: Sample): string => labels.map((l) => s.labels[l] ?? '').join('\u0000');
  const index = (samples: readonly Sample[]): Map<string, number> => new Map(samples.map((s) => [key(s), s.value]));
  const successes = index(answers.successes);
  const q = { p50: index(answers.p50), p95: index(answers.p95), p99: index(answers.p99) };
  const ms = (m: Map<string, number>, k: string, rps: number): number | null => {
    const v = m.get(k);
    return rps > 0 && v !== undefined && Number.isFinite(v) ? v * 1000 : null;
  };
  const rows = answers.requests.map((s): StatRow => {
    const k = key(s);
    const l = s.labels;
    const rps = Number.isFinite(s.value) ? s.value : 0;
    const base = { namespace: l.destination_namespace ?? '', workload: l.destination_workload ?? '' };
    const extra = by === 'route' ? { service: l.destination_service ?? '', route: l.route ?? '' } : by === 'edge' ? { from: `${l.source_namespace ?? ''}/${l.source_workload ?? ''}` } : {};
    return {
      ...base,
      ...extra,
      rps,
      successRate: rps > 0 ? Math.min(1, (successes.get(k) ?? 0) / rps) : null,
      p50Ms: ms(q.p50, k, rps),
      p95Ms: ms(q.p95, k, rps),
      p99Ms: ms(q.p99, k, rps),
    };
  });
  return rows.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.workload.localeCompare(b.workload) || (a.from ?? '').localeCompare(b.from ?? '') || (a.service ?? '').localeCompare(b.service ?? '') || (a.route ?? '').localeCompare(b.route ?? ''));
}

/** Asks Prometheus the five queries at once and builds the rows; throws PrometheusError. */
export async function fetchStat(prometheusUrl: string, q: StatQuery, timeoutMs?: number): Promise<StatRow[]> {
  const promql = statPromql(q);
  const names = Object.keys(promql) as (keyof typeof promql)[];
  const answers = await Promise.all(names.map((n) => queryVector(prometheusUrl, promql[n], timeoutMs)));
  return statRows(q.by, Object.fromEntries(names.map((n, i) => [n, answers[i]!])) as Record<keyof typeof promql, Sample[]>);
}

/** The table `skein stat` prints, like `linkerd viz stat`: one row per group, `-` where there is no value. */
export function formatStatTable(by: StatGrouping, rows: readonly StatRow[]): string {
  if (rows.length === 0) return 'No traffic found (nothing in skein_requests_total for this selection over the window).\n';
  const lead: [string, (r: StatRow) => string][] =
    by === 'workload'
      ? [['NAMESPACE', (r) => r.namespace], ['WORKLOAD', (r) => r.workload]]
      : by === 'route'
        ? [['NAMESPACE', (r) => r.namespace], ['SERVICE', (r) => r.service ?? ''], ['ROUTE', (r) => r.route ?? ''], ['WORKLOAD', (r) => r.workload]]
        : [['FROM', (r) => r.from ?? ''], ['TO', (r) => `${r.namespace}/${r.workload}`]];
  const ms = (v: number | null): string => (v === null ? '-' : `${v < 10 ? v.toFixed(1) : Math.round(v)}ms`);
  const cols: [string, (r: StatRow) => string][] = [
    ...lead,
    ['SUCCESS', (r) => (r.successRate === null ? '-' : `${(r.successRate * 100).toFixed(2)}%`)],
    ['RPS', (r) => r.rps.toFixed(1)],
    ['LATENCY_P50', (r) => ms(r.p50Ms)],
    ['LATENCY_P95', (r) => ms(r.p95Ms)],
    ['LATENCY_P99', (r) => ms(r.p99Ms)],
  ];
  const cells = rows.map((r) => cols.map(([, f]) => f(r)));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]!))).join('  ');
  return `${[line(cols.map(([h]) => h)), ...cells.map(line)].join('\n')}\n`;
}
