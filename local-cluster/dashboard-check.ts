// Checks the shipped Grafana dashboards (manifests/observability/dashboards/) against a real Prometheus that scraped a mesh:
// every query runs without error, and every metric and label it names exists in that Prometheus. The demo runs it as its
// smoke check "dashboards"; the mesh's scrape jobs must all be up for it to pass.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SmokeResult } from './smoke-summary.ts';

export interface DashboardQuery {
  /** `<dashboard file> / <panel title>` or `<dashboard file> / $<variable>`. */
  readonly where: string;
  readonly expr: string;
  /** A template variable's `label_values(selector, label)`: checked through the series API, not run. */
  readonly labelValues?: { readonly selector: string; readonly label: string };
}

interface GrafanaDashboard {
  panels?: { title?: string; targets?: { expr?: string }[] }[];
  templating?: { list?: { name?: string; type?: string; definition?: string }[] };
}

/** Every query of every dashboard in `dir`, panels and template variables alike. */
export function dashboardQueries(dir: string): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const d = JSON.parse(readFileSync(join(dir, file), 'utf8')) as GrafanaDashboard;
    for (const v of d.templating?.list ?? []) {
      if (v.type !== 'query' || !v.definition) continue;
      const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(v.definition);
      out.push({ where: `${file} / $${v.name}`, expr: v.definition, ...(m ? { labelValues: { selector: m[1]!, label: m[2]! } } : {}) });
    }
    for (const p of d.panels ?? []) for (const t of p.targets ?? []) if (t.expr) out.push({ where: `${file} / ${p.title ?? '?'}`, expr: t.expr });
  }
  return out;
}

/** Grafana's variables as a run over everything would expand them: `$__rate_interval` a minute, every other one `.*`. */
export function expandVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replace(/\$[a-zA-Z_][a-zA-Z0-9_]*/g, '.*');
}

/** The metric names (ours: `skein_*`) and label names a PromQL expression refers to (matchers and by/without clauses). */
export function promqlNames(expr: string): { metrics: string[]; labels: string[] } {
  const metrics = new Set<string>();
  for (const m of expr.matchAll(/\b(skein_[a-z0-9_]+)\b/g)) metrics.add(m[1]!);
  const labels = new Set<string>();
  for (const sel of expr.matchAll(/\{([^}]*)\}/g)) for (const m of sel[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(m[1]!);
  for (const g of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const l of g[1]!.split(',')) if (l.trim()) labels.add(l.trim());
  for (const v of expr.matchAll(/label_values\(.*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/g)) labels.add(v[1]!);
  return { metrics: [...metrics], labels: [...labels] };
}

/**
 * Labels a metric really has that Prometheus cannot show until some series gives them a value: it stores a label with an
 * empty value as no label at all. `grpc_status` is "" on every plain-HTTP request, so a mesh without gRPC traffic (the
 * demo) has no series carrying it.
 */
export const MAY_BE_EMPTY: Readonly<Record<string, readonly string[]>> = {
  skein_requests_total: ['grpc_status'],
  skein_request_duration_seconds_bucket: ['grpc_status'],
  skein_request_size_bytes_bucket: ['grpc_status'],
  skein_response_size_bytes_bucket: ['grpc_status'],
};

interface PromAnswer<T> {
  status?: string;
  error?: string;
  data?: T;
}

async function promGet<T>(base: string, path: string, params: Record<string, string>): Promise<PromAnswer<T>> {
  const u = new URL(path, base.endsWith('/') ? base : `${base}/`);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  const r = await fetch(u, { signal: AbortSignal.timeout(10_000) });
  return (await r.json()) as PromAnswer<T>;
}

/**
 * Problems with the dashboards against this Prometheus (empty: none), and how many panel queries returned no series
 * (not a problem in itself: an error-only series may be absent while nothing fails).
 */
export async function dashboardProblems(prometheusUrl: string, queries: readonly DashboardQuery[]): Promise<{ problems: string[]; empty: string[] }> {
  const problems: string[] = [];
  const empty: string[] = [];
  const labelsOf = new Map<string, Set<string> | null>();
  const seriesLabels = async (match: string): Promise<Set<string> | null> => {
    if (!labelsOf.has(match)) {
      const start = String(Math.floor(Date.now() / 1000) - 900);
      const a = await promGet<Record<string, string>[]>(prometheusUrl, 'api/v1/series', { 'match[]': match, start });
      const series = a.status === 'success' ? (a.data ?? []) : [];
      labelsOf.set(match, series.length === 0 ? null : new Set(series.flatMap((s) => Object.keys(s))));
    }
    return labelsOf.get(match)!;
  };
  for (const q of queries) {
    const names = promqlNames(q.expr);
    const known = new Set<string>();
    for (const m of names.metrics) {
      const l = await seriesLabels(m);
      if (l === null) problems.push(`${q.where}: no series of ${m}`);
      else for (const x of l) known.add(x);
      if (m.endsWith('_bucket')) known.add('le');
      for (const l of MAY_BE_EMPTY[m] ?? []) known.add(l);
    }
    if (names.metrics.length === 0) problems.push(`${q.where}: names no skein_* metric (${q.expr})`);
    const unknown = names.labels.filter((l) => l !== 'le' && !known.has(l));
    if (names.metrics.length > 0 && unknown.length > 0 && names.metrics.every((m) => labelsOf.get(m) !== null)) problems.push(`${q.where}: label(s) ${unknown.join(', ')} not on ${names.metrics.join(', ')}`);
    if (q.labelValues) {
      const l = await seriesLabels(expandVariables(q.labelValues.selector));
      if (l === null || !(l.has(q.labelValues.label) || promqlNames(q.labelValues.selector).metrics.some((m) => MAY_BE_EMPTY[m]?.includes(q.labelValues!.label)))) problems.push(`${q.where}: no series of ${q.labelValues.selector} has label ${q.labelValues.label}`);
      continue;
    }
    const a = await promGet<{ result?: unknown[] }>(prometheusUrl, 'api/v1/query', { query: expandVariables(q.expr) });
    if (a.status !== 'success') problems.push(`${q.where}: the query fails: ${a.error ?? a.status ?? 'no answer'}`);
    else if ((a.data?.result ?? []).length === 0) empty.push(q.where);
  }
  return { problems, empty };
}

/** The scrape jobs of manifests/observability/ that must have targets, all up. */
export const MESH_SCRAPE_JOBS = ['skein-proxies', 'skein-control-plane', 'skein-injector'] as const;

/** The demo's smoke check: the mesh's scrape jobs are up, then every dashboard query is checked. */
export async function checkDashboards(prometheusUrl: string, dashboardsDir: string): Promise<SmokeResult> {
  const part = 'dashboards';
  try {
    const up = await promGet<{ result?: { metric: Record<string, string>; value: [number, string] }[] }>(prometheusUrl, 'api/v1/query', { query: 'up' });
    const targets = up.data?.result ?? [];
    const jobProblems = MESH_SCRAPE_JOBS.flatMap((job) => {
      const t = targets.filter((s) => s.metric.job === job);
      if (t.length === 0) return [`no ${job} target`];
      const down = t.filter((s) => s.value[1] !== '1').map((s) => s.metric.pod ?? s.metric.instance);
      return down.length > 0 ? [`${job} down: ${down.join(', ')}`] : [];
    });
    const queries = dashboardQueries(dashboardsDir);
    const { problems, empty } = await dashboardProblems(prometheusUrl, queries);
    const all = [...jobProblems, ...problems];
    if (all.length > 0) return { part, status: 'fail', detail: all.slice(0, 8).join('; ') + (all.length > 8 ? `; and ${all.length - 8} more` : '') };
    const jobs = MESH_SCRAPE_JOBS.map((j) => `${j} ${targets.filter((s) => s.metric.job === j).length}`).join(', ');
    return { part, status: 'pass', detail: `${queries.length} queries of ${readdirSync(dashboardsDir).filter((f) => f.endsWith('.json')).length} dashboards run, every metric and label found (${empty.length} with no series yet); targets up: ${jobs}` };
  } catch (e) {
    return { part, status: 'fail', detail: (e as Error).message.split('\n')[0] ?? 'error' };
  }
}
