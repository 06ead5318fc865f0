// Formats the benchmark figures as the markdown table: figure, Skein, reference, ratio, target, met?
import { round } from './stats.ts';

export interface TableRow {
  readonly figure: string;
  readonly skein: number | null;
  readonly reference: number | null;
  readonly referenceName: string;
  /** Target in words, e.g. "<= 1.0 x HAProxy and <= 1 ms". */
  readonly target: string;
  /** true/false when it can be judged, null when a figure is missing. */
  readonly met: boolean | null;
  readonly unit: string;
  readonly note?: string;
}

const fmt = (x: number | null, unit: string): string => (x === null ? 'n/a' : `${round(x, x >= 100 ? 0 : 3)} ${unit}`.trim());

export function markdownTable(rows: readonly TableRow[]): string {
  const head = '| figure | Skein | reference | ratio (Skein / ref) | target | met? |\n|---|---|---|---|---|---|';
  const lines = rows.map((r) => {
    // A reference at or below zero (an added latency lost in noise) gives no meaningful ratio.
    const ratio = r.skein === null || r.reference === null ? 'n/a' : r.reference <= 0 ? 'n/a (ref <= 0)' : `${round(r.skein / r.reference, 2)}`;
    const met = r.met === null ? 'n/a' : r.met ? 'yes' : 'NO';
    const ref = r.reference === null && r.referenceName === '' ? '-' : `${fmt(r.reference, r.unit)}${r.referenceName ? ` (${r.referenceName})` : ''}`;
    return `| ${r.figure}${r.note ? ` (${r.note})` : ''} | ${fmt(r.skein, r.unit)} | ${ref} | ${ratio} | ${r.target} | ${met} |`;
  });
  return [head, ...lines].join('\n');
}
