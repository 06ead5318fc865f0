// `skein proxy-status`: every proxy's sync state as the control-plane replicas see it (SYNCED / STALE / NACKED), like
// `istioctl proxy-status`, read from each replica's /debug/proxies.
import type { Command } from 'commander';
import { CONTROL_PLANE_DEBUG_PORT } from '../../api/proto/config-discovery.ts';
import { CliError } from '../cli-error.ts';

/** The fields of /debug/proxies this command prints (the control plane's ProxyStatusView). */
export interface ProxyStatusRow {
  readonly id: string;
  readonly namespace: string;
  readonly podName: string;
  readonly replica: string;
  readonly status: string;
  readonly ackedVersion: string;
  readonly latestVersion: string;
  readonly nackReasons: readonly { readonly type: string; readonly name: string; readonly message: string }[];
  readonly lastContactAt: string;
}

function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return Number.isFinite(s) ? (s < 120 ? `${s}s` : `${Math.round(s / 60)}m`) : '-';
}

/** The table, one proxy a line, then the reasons of every NACKED one. */
export function formatProxyStatus(rows: readonly ProxyStatusRow[], now: number): string {
  const header = ['NAME', 'NAMESPACE', 'STATUS', 'ACKED', 'LATEST', 'REPLICA', 'LAST CONTACT'];
  const sorted = [...rows].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.podName.localeCompare(b.podName));
  const lines = sorted.map((r) => [r.podName, r.namespace, r.status, r.ackedVersion || '-', r.latestVersion || '-', r.replica, ago(r.lastContactAt, now)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]): string => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const out = [fmt(header), ...lines.map(fmt)];
  for (const r of sorted) {
    if (r.status !== 'NACKED') continue;
    out.push('', `${r.podName}.${r.namespace} rejected ${r.latestVersion}:`);
    for (const why of r.nackReasons) out.push(`  ${why.type}/${why.name}: ${why.message}`);
  }
  return `${out.join('\n')}\n`;
}

export function registerProxyStatusCommand(program: Command): void {
  program
    .command('proxy-status')
    .description('show whether each proxy holds the config the control plane wants it to (SYNCED / STALE / NACKED)')
    .option('--control-plane <url...>', 'debug endpoint of each control-plane replica', [`http://127.0.0.1:${CONTROL_PLANE_DEBUG_PORT}`])
    .option('-o, --output <format>', 'table | json', 'table')
    .action(async (opts: { controlPlane: string[]; output: string }) => {
      if (opts.output !== 'table' && opts.output !== 'json') throw new CliError('--output must be table or json', 2);
      const rows: ProxyStatusRow[] = [];
      for (const base of opts.controlPlane) {
        let doc: { proxies?: ProxyStatusRow[] };
        try {
          const res = await fetch(new URL('/debug/proxies', base), { signal: AbortSignal.timeout(5000) });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          doc = (await res.json()) as { proxies?: ProxyStatusRow[] };
        } catch (e) {
          throw new CliError(`cannot read ${base}/debug/proxies: ${(e as Error).message}`, 1);
        }
        rows.push(...(doc.proxies ?? []));
      }
      process.stdout.write(opts.output === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : formatProxyStatus(rows, Date.now()));
    });
}
