// Runs the load generators (wrk, h2load, fortio, ghz) as bounded child processes and parses what they print.
import { readFileSync } from 'node:fs';
import type { ProcessGroup, Started } from './process-group.ts';

export interface ToolRun {
  readonly proc: Started;
  readonly done: Promise<string>;
}

/** Starts a tool; `done` resolves with its output when it exits 0 and rejects otherwise or after a hard timeout. */
export function runTool(group: ProcessGroup, name: string, cmd: string, args: readonly string[], hardTimeoutMs: number): ToolRun {
  const proc = group.start(name, cmd, args);
  let all = '';
  proc.child.stdout?.on('data', (b: Buffer) => { all += b.toString(); });
  proc.child.stderr?.on('data', (b: Buffer) => { all += b.toString(); });
  const done = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => { proc.child.kill('SIGKILL'); reject(new Error(`${name} exceeded ${hardTimeoutMs} ms`)); }, hardTimeoutMs);
    proc.child.on('exit', (code, sig) => {
      clearTimeout(t);
      if (code === 0) resolve(all);
      else reject(new Error(`${name} exited ${code ?? sig}: ${all.slice(-2000)}`));
    });
  });
  return { proc, done };
}

export interface ThroughputResult {
  readonly rps: number;
  readonly errors: number;
}

/** wrk closed loop, HTTP/1.1 keep-alive. */
export function wrk(group: ProcessGroup, url: string, connections: number, durationS: number, threads = 1): ToolRun {
  return runTool(group, 'wrk', 'wrk', ['-t', String(threads), '-c', String(connections), '-d', `${durationS}s`, '--latency', url], (durationS + 20) * 1000);
}

export function parseWrk(out: string): ThroughputResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`cannot parse wrk output: ${out.slice(-500)}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errors = (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return { rps: Number(rps[1]), errors };
}

/** h2load closed loop over HTTP/2 prior knowledge (h2c): `clients` connections, `streams` concurrent streams each. */
export function h2load(group: ProcessGroup, url: string, clients: number, streams: number, durationS: number): ToolRun {
  return runTool(group, 'h2load', 'h2load', ['-c', String(clients), '-m', String(streams), '-t', '1', '-D', String(durationS), url], (durationS + 20) * 1000);
}

export function parseH2load(out: string): ThroughputResult {
  const m = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  if (!m) throw new Error(`cannot parse h2load output: ${out.slice(-500)}`);
  const f = /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored/.exec(out);
  return { rps: Number(m[1]), errors: f ? Number(f[1]) + Number(f[2]) : 0 };
}

export interface LatencyResult {
  /** Milliseconds. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly actualQps: number;
  readonly count: number;
  readonly errors: number;
  /** ghz only: what the errors were. */
  readonly errorKinds?: string;
  /** fortio only: percent of scheduled sends that were late (only printed by fortio above 5 %), else the count of late sends. */
  readonly behindSchedule?: string;
}

/**
 * fortio at a fixed rate (-qps over -c connections, -uniform staggers the connections' start times). What fortio does
 * about coordinated omission (read in fortio v1.66.5 periodic/periodic.go): each connection keeps its own schedule
 * (request i is due at start + i / per-connection-qps); after a slow response it does not skip the missed slots but sends
 * the next requests immediately until back on schedule ("catch-up", since -nocatchup is off), so the offered rate holds.
 * But each latency is timed from the actual send, not from the scheduled slot, so the time a request waited behind a
 * slow one is NOT added: fortio mitigates coordinated omission, it does not correct it. It counts how often a connection
 * fell behind schedule; we parse that ("sleep falling behind") and flag runs where it happened.
 */
export function fortio(
  group: ProcessGroup, fortioBin: string, url: string, qps: number, connections: number, durationS: number, jsonPath: string,
  /** More flags before the URL (HTTPS: `-cacert FILE -resolve 127.0.0.1`). */
  extraArgs: readonly string[] = [],
): ToolRun {
  const args = ['load', '-loglevel', 'Warning', '-qps', String(qps), '-c', String(connections), '-t', `${durationS}s`, '-uniform',
    // -r: histogram resolution in seconds; fortio's default (1 ms) would blur the sub-millisecond figures we care about.
    '-r', '0.00001', '-p', '50,90,99,99.9', '-json', jsonPath, '-a=false', ...extraArgs, url];
  return runTool(group, 'fortio', fortioBin, args, (durationS + 30) * 1000);
}

interface FortioJson {
  ActualQPS: number;
  DurationHistogram: { Count: number; Max: number; Percentiles: { Percentile: number; Value: number }[] };
  RetCodes: Record<string, number>;
}

/** How far behind schedule fortio fell, from its text output: "WARNING x% of sleep were falling behind" or the sleep min. */
export function parseFortioBehind(out: string): string {
  const w = /WARNING ([\d.]+)% of sleep were falling behind/.exec(out);
  if (w) return `${w[1]}% of sends late`;
  const s = /Sleep times : count (\d+) avg [-+\d.e]+ \+\/- [-+\d.e]+ min ([-+\d.e]+)/.exec(out);
  if (s) return Number(s[2]) < 0 ? `<=5% of sends late (min sleep ${(Number(s[2]) * 1000).toFixed(2)} ms)` : 'never late';
  return 'unknown';
}

export function parseFortioJson(path: string): LatencyResult {
  const j = JSON.parse(readFileSync(path, 'utf8')) as FortioJson;
  const pct = (p: number): number => {
    const e = j.DurationHistogram.Percentiles.find((x) => x.Percentile === p);
    if (!e) throw new Error(`fortio result has no p${p}`);
    return e.Value * 1000;
  };
  const ok = j.RetCodes['200'] ?? 0;
  const count = j.DurationHistogram.Count;
  return { p50: pct(50), p90: pct(90), p99: pct(99), max: j.DurationHistogram.Max * 1000, actualQps: j.ActualQPS, count, errors: count - ok };
}

/** ghz gRPC unary load at a fixed rate (--rps) over `connections` connections. */
export function ghz(
  group: ProcessGroup, ghzBin: string, target: string, protoPath: string, call: string, rps: number, connections: number,
  durationS: number, jsonPath: string,
): ToolRun {
  const args = ['--insecure', '--proto', protoPath, '--call', call, '--rps', String(rps), '--connections', String(connections),
    '--concurrency', String(Math.max(connections, 50)), '--duration', `${durationS}s`, '--data', '{"name":"bench"}',
    '--format', 'json', '--output', jsonPath, '--skipFirst', String(Math.min(rps, 500)), target];
  return runTool(group, 'ghz', ghzBin, args, (durationS + 30) * 1000);
}

interface GhzJson {
  count: number;
  rps: number;
  latencyDistribution: { percentage: number; latency: number }[] | null;
  slowest: number;
  statusCodeDistribution: Record<string, number>;
  errorDistribution?: Record<string, number> | null;
}

export function parseGhzJson(path: string): LatencyResult {
  const j = JSON.parse(readFileSync(path, 'utf8')) as GhzJson;
  const pct = (p: number): number => {
    const e = (j.latencyDistribution ?? []).find((x) => x.percentage === p);
    if (!e) throw new Error(`ghz result has no p${p}`);
    return e.latency / 1e6; // nanoseconds -> ms
  };
  const ok = j.statusCodeDistribution['OK'] ?? 0;
  const errorKinds = Object.entries(j.errorDistribution ?? {}).map(([k, v]) => `${v} x ${k.slice(0, 120)}`).join('; ');
  return { p50: pct(50), p90: pct(90), p99: pct(99), max: j.slowest / 1e6, actualQps: j.rps, count: j.count, errors: j.count - ok, ...(errorKinds ? { errorKinds } : {}) };
}
