// Runs `vmstat 1` for the whole benchmark and keeps its lines with timestamps, so a run can be checked for other CPU load.
import type { ProcessGroup, Started } from './process-group.ts';

export interface VmstatSample {
  readonly atMs: number;
  readonly us: number;
  readonly sy: number;
  readonly id: number;
  readonly runnable: number;
}

export class VmstatLog {
  readonly samples: VmstatSample[] = [];
  readonly lines: string[] = [];
  readonly #proc: Started;

  constructor(group: ProcessGroup, maxSeconds: number) {
    this.#proc = group.start('vmstat', 'vmstat', ['-n', '1', String(maxSeconds)]);
    let partial = '';
    this.#proc.child.stdout?.on('data', (b: Buffer) => {
      partial += b.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        const now = Date.now();
        this.lines.push(`${new Date(now).toISOString()} ${line}`);
        const f = line.trim().split(/\s+/).map(Number);
        // r b swpd free buff cache si so bi bo in cs us sy id wa st
        if (f.length >= 17 && f.every((x) => Number.isFinite(x))) {
          this.samples.push({ atMs: now, runnable: f[0]!, us: f[12]!, sy: f[13]!, id: f[14]! });
        }
      }
    });
  }

  /** Samples taken between two instants (the first vmstat line is the since-boot average and is skipped). */
  between(fromMs: number, toMs: number): VmstatSample[] {
    return this.samples.slice(1).filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
  }

  get pid(): number { return this.#proc.pid; }
}
