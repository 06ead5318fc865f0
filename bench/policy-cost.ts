// The cost of every policy configured at its defaults (issue 9: "at most 5 % more" than the bare request stack): two single
// proxies side by side, one with the plain bench config and one with POLICY_DEFAULTS on its route and cluster, loaded in
// interleaved closed-loop rounds (wrk, HTTP/1.1 keep-alive); reports each one's req/s and requests per proxy CPU-second,
// and the second over the first. Called by bench/run.ts with the run's upstream.
import { parseWrk, wrk } from './lib/load-tools.ts';
import { CpuWindow } from './lib/proc-stats.ts';
import { freePort, type ProcessGroup, type Started } from './lib/process-group.ts';
import { POLICY_DEFAULTS, skeinProxyConfig, withRouteAndCluster } from './lib/skein-config.ts';
import { httpStatus, startSkeinProxy } from './lib/skein-proxy.ts';
import { median, medianOfRatios, round } from './lib/stats.ts';

/** The least warm-up of each variant (seconds), in quick mode too. */
const WARM_S = 5;

export interface PolicyCostOptions {
  readonly group: ProcessGroup;
  /** The run's HTTP/1.1 upstream on loopback. */
  readonly upstreamPort: number;
  readonly workDir: string;
  /** Interleaved rounds (each variant once per round, the order alternating). */
  readonly rounds: number;
  readonly seconds: { readonly warm: number; readonly tput: number };
  readonly connections: number;
  readonly log: (line: string) => void;
}

export interface PolicyVariantResult {
  readonly variant: 'plain' | 'defaults';
  /** Medians over the rounds. */
  readonly rps: number | null;
  readonly reqPerCpuSecond: number | null;
  /** Cores other processes used meanwhile (median): a high figure means a noisy window. */
  readonly otherCores: number | null;
}

export interface PolicyCostResult {
  readonly variants: readonly PolicyVariantResult[];
  /** The defaults variant's req/s over the plain one's, the median of the rounds' ratios (>= 0.95 meets the target). */
  readonly rpsRatio: number | null;
  /** The defaults variant's proxy CPU per request over the plain one's, the median of the rounds' ratios (<= 1.05 meets the target). */
  readonly cpuPerRequestRatio: number | null;
}

export async function measurePolicyCost(o: PolicyCostOptions): Promise<PolicyCostResult> {
  const procs: { variant: PolicyVariantResult['variant']; proc: Started; port: number; rps: number[]; perCpu: number[]; other: number[] }[] = [];
  try {
    // Every port first: a port found free may be taken by an outgoing connection of a proxy already started.
    const ports = [[await freePort(), await freePort()], [await freePort(), await freePort()]] as const;
    for (const [i, variant] of (['plain', 'defaults'] as const).entries()) {
      const [port, admin] = ports[i]!;
      const plain = skeinProxyConfig(`policy-${variant}`, admin, [{ name: 'single', port, direction: 'outbound', upstreamPort: o.upstreamPort, upstreamProtocol: 'http1' }]);
      const r = await startSkeinProxy(o.group, `policy-${variant}`, variant === 'plain' ? plain : withRouteAndCluster(plain, POLICY_DEFAULTS), admin, o.workDir);
      if (!r.ok) throw new Error(`policy ${variant}: ${r.reason}`);
      procs.push({ variant, proc: r.proc, port, rps: [], perCpu: [], other: [] });
      const code = await httpStatus(`http://127.0.0.1:${port}/`);
      if (code !== 200) throw new Error(`policy ${variant}: the proxy answered ${code ?? 'nothing'} instead of 200`);
    }
    // Each variant warmed on its own before any measured round, for at least WARM_S (../shared/BENCHMARKS.md: >= 5 s):
    // the quick bench's 2 s left the defaults variant's first rounds its slowest, as the code only the policies use (and
    // the timers they arm) was still being compiled and optimized. Printed, so a warm-up still climbing shows.
    const warmS = Math.max(o.seconds.warm, WARM_S);
    for (const p of procs) {
      const t = parseWrk(await wrk(o.group, `http://127.0.0.1:${p.port}/`, o.connections, warmS).done);
      o.log(`policy ${p.variant} warm-up (${warmS} s, not recorded): ${Math.round(t.rps)} req/s`);
    }
    for (let round = 0; round < o.rounds; round++) {
      for (let k = 0; k < procs.length; k++) {
        const p = procs[(round + k) % procs.length]!;
        const run = wrk(o.group, `http://127.0.0.1:${p.port}/`, o.connections, o.seconds.tput);
        const w = new CpuWindow([p.proc.pid, run.proc.pid]);
        const t = parseWrk(await run.done);
        const c = w.end();
        if (t.errors > 0) throw new Error(`policy ${p.variant}: wrk saw ${t.errors} errors`);
        const cores = c.perPid[0]! / c.seconds;
        p.rps.push(t.rps);
        p.perCpu.push(t.rps / cores);
        p.other.push(c.otherCores);
        o.log(`policy ${p.variant} round ${round + 1}: ${Math.round(t.rps)} req/s, ${Math.round(t.rps / cores)} req per proxy CPU-second, other load ${c.otherCores.toFixed(2)} cores`);
      }
    }
    const variants = procs.map((p): PolicyVariantResult => ({ variant: p.variant, rps: round(median(p.rps), 0), reqPerCpuSecond: round(median(p.perCpu), 0), otherCores: round(median(p.other), 2) }));
    // The ratios are medians of each round's own ratio (the two variants measured back to back), not ratios of the two
    // medians: on this VM one 5 s window moves by 10-20 % with the host's load, and a ratio within a round cancels the
    // drift that falls on both of its windows. The median of each variant is reported as well.
    const [plain, defaults] = procs as [(typeof procs)[number], (typeof procs)[number]];
    const paired = (a: number[], b: number[]): number | null => round(medianOfRatios(a, b), 3);
    // CPU per request is the inverse of requests per CPU-second.
    return { variants, rpsRatio: paired(defaults.rps, plain.rps), cpuPerRequestRatio: paired(plain.perCpu, defaults.perCpu) };
  } finally {
    for (const p of procs) await o.group.stop(p.proc);
  }
}
