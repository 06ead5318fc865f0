// Reads CPU time and memory of processes and of the whole machine from /proc (Linux only).
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ; 100 on every Linux we run on (checked with `getconf CLK_TCK`). */
const CLK_TCK = 100;

/** utime+stime of one process, in seconds; null if it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may contain spaces; fields after the closing paren are space separated.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** VmRSS of one process in MiB; null if it is gone. */
export function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Jiffies of the whole machine (all CPUs), from the first line of /proc/stat. `busy` is user+nice+system: process time.
 * irq/softirq time is left out on purpose, because loopback networking of our own load is charged there, not to our pids.
 */
export function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy, total };
}

/** The pids whose parent is `pid` (an ingress's worker processes under its supervisor), from /proc; [] if none. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    try {
      const s = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (s.slice(s.lastIndexOf(')') + 2).split(' ')[1] === String(pid)) out.push(Number(name));
    } catch {}
  }
  return out;
}

/**
 * CPU seconds of all kernel threads (children of kthreadd, pid 2). Under heavy loopback traffic, ksoftirqd does network
 * work on behalf of our own load; it must not count as somebody else's.
 */
export function kernelThreadsCpuSeconds(): number {
  let total = 0;
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    try {
      const s = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (f[1] === '2' || name === '2') total += (Number(f[11]) + Number(f[12])) / CLK_TCK;
    } catch {}
  }
  return total;
}

/**
 * Measures a window: CPU seconds of each watched pid, and the machine's busy CPU seconds that none of them account for
 * ("other load": other people's work on this shared machine).
 */
export class CpuWindow {
  readonly #pids: readonly number[];
  readonly #start: number[];
  readonly #m0 = machineJiffies();
  readonly #k0 = kernelThreadsCpuSeconds();
  readonly #t0 = process.hrtime.bigint();

  constructor(pids: readonly number[]) {
    this.#pids = pids;
    this.#start = pids.map((p) => cpuSeconds(p) ?? 0);
  }

  end(): { seconds: number; perPid: number[]; otherCores: number; machineCores: number; kernelThreadCores: number } {
    const seconds = Number(process.hrtime.bigint() - this.#t0) / 1e9;
    const perPid = this.#pids.map((p, i) => (cpuSeconds(p) ?? this.#start[i]!) - this.#start[i]!);
    const m1 = machineJiffies();
    const machineBusy = (m1.busy - this.#m0.busy) / CLK_TCK;
    const kernel = Math.max(0, kernelThreadsCpuSeconds() - this.#k0);
    const ours = perPid.reduce((a, b) => a + b, 0);
    return {
      seconds, perPid, otherCores: Math.max(0, machineBusy - ours - kernel) / seconds, machineCores: machineBusy / seconds,
      kernelThreadCores: kernel / seconds,
    };
  }
}
