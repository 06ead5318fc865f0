// `skein stat`: the golden signals (success rate, requests per second, latency percentiles) per workload, per route or
// per caller -> callee edge, read from Prometheus's HTTP API, like `linkerd viz stat`. The queries are in docs/cli.md.
import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';

export const DEFAULT_PROMETHEUS_URL = 'http://127.0.0.1:9090';

interface StatOptions {
  prometheus?: string;
  namespace?: string;
  allNamespaces?: boolean;
  by: string;
  window: string;
  output: string;
  timeout: string;
}

export function registerStatCommand(program: Command): void {
  program
    .command('stat')
    .description('golden signals (success rate, requests/s, latency p50/p95/p99) per workload, route or caller -> callee edge, from Prometheus')
    .argument('[workload]', 'only this destination workload')
    .option('--prometheus <url>', `Prometheus's address (default $SKEIN_PROMETHEUS_URL, else ${DEFAULT_PROMETHEUS_URL})`)
    .option('-n, --namespace <name>', 'only destinations in this namespace (default: all)')
    .option('-A, --all-namespaces', 'every namespace (the default; for symmetry with kubectl)')
    .option('--by <grouping>', 'workload | route | edge', 'workload')
    .option('--window <duration>', 'the rate window (a Prometheus duration)', '1m')
    .option('-o, --output <format>', 'table | json', 'table')
    .option('--timeout <ms>', 'how long each query may take', '10000')
    .action(async (workload: string | undefined, opts: StatOptions) => {
      const { fetchStat, formatStatTable, statQueryProblems } = await import('../stat/golden-signals.ts');
      const { PrometheusError } = await import('../stat/prometheus-client.ts');
      const q = { by: opts.by as 'workload', namespace: opts.allNamespaces ? null : (opts.namespace ?? null), workload: workload ?? null, window: opts.window };
      const problems = statQueryProblems(q);
      if (opts.output !== 'table' && opts.output !== 'json') problems.push(`--output must be table or json, not "${opts.output}"`);
      const timeoutMs = Number(opts.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1) problems.push(`--timeout must be a whole number of milliseconds, not "${opts.timeout}"`);
      if (problems.length > 0) throw new CliError(problems.join('\n'), 2);
      const url = opts.prometheus ?? (process.env.SKEIN_PROMETHEUS_URL || DEFAULT_PROMETHEUS_URL);
      let rows;
      try {
        rows = await fetchStat(url, q, timeoutMs);
      } catch (e) {
        if (e instanceof PrometheusError) {
          const hint = e.code === 'SKEIN_ERR_PROMETHEUS_UNREACHABLE' || e.code === 'SKEIN_ERR_PROMETHEUS_TIMEOUT' ? ' (is it running? give its address with --prometheus <url> or SKEIN_PROMETHEUS_URL)' : '';
          throw new CliError(`${e.code}: ${e.message}${hint}`, 1);
        }
        throw e;
      }
      process.stdout.write(opts.output === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : formatStatTable(q.by, rows));
    });
}
