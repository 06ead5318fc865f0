// Draws the latency percentile plot (PNG) with gnuplot's png terminal (Debian gnuplot-nox; works offline).
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PlotSeries {
  /** e.g. "HAProxy pair, 16 conns". */
  readonly label: string;
  /** Milliseconds at p50, p90, p99, max; null where not measured. */
  readonly values: readonly (number | null)[];
  readonly dashed: boolean;
}

const points = ['p50', 'p90', 'p99', 'max'];

function hasTerminal(name: string): boolean {
  // gnuplot lists its terminals on stderr.
  const r = spawnSync('gnuplot', ['-e', 'set terminal'], { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').some((l) => l.trim().startsWith(`${name} `));
}

/** Writes latency.dat, latency.gp and latency.png into dir; returns the PNG path, or null (with a reason) if gnuplot failed. */
export function plotLatency(dir: string, title: string, series: readonly PlotSeries[]): { png: string | null; error: string | null } {
  // pngcairo draws dashed lines (4-connection series); the plain libgd png terminal is the fallback.
  const terminal = hasTerminal('pngcairo') ? 'pngcairo' : 'png';
  const usable = series.filter((s) => s.values.some((v) => v !== null));
  const dat = join(dir, 'latency.dat');
  const rows = points.map((p, i) => [p, ...usable.map((s) => (s.values[i] === null || s.values[i] === undefined ? 'NaN' : s.values[i]!.toFixed(4)))].join('\t'));
  writeFileSync(dat, `# percentile\t${usable.map((s) => s.label).join('\t')}\n${rows.join('\n')}\n`);
  const png = join(dir, 'latency.png');
  const colors = ['#555555', '#d95f02', '#1b9e77', '#7570b3'];
  const plots = usable.map((s, i) =>
    `'${dat}' using ${i + 2}:xtic(1) with linespoints lw 2 pt ${s.dashed ? 6 : 7} dt ${s.dashed ? 2 : 1} lc rgb '${colors[Math.floor(i / 2) % colors.length]}' title '${s.label.replace(/'/g, '')}'`);
  const gp = `set terminal ${terminal} size 900,560
set output '${png}'
set title '${title.replace(/'/g, '')}'
set ylabel 'latency (ms, log scale)'
set xlabel 'percentile at 1000 req/s (fortio, 1 KiB responses)'
set logscale y
set grid ytics
set key top left
set datafile missing 'NaN'
plot ${plots.join(', \\\n  ')}
`;
  const gpFile = join(dir, 'latency.gp');
  writeFileSync(gpFile, gp);
  try {
    execFileSync('gnuplot', [gpFile], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
    return { png, error: null };
  } catch (e) {
    return { png: null, error: (e as Error).message };
  }
}
