// Counts the instructions one Skein proxy executes per HTTP/2 request or gRPC call (valgrind's callgrind): a figure that
// other load on the machine cannot move, for judging a change to the per-request work where wall-clock benches are noise.
// Usage: node bench/instructions.ts [--proto h2|grpc|h1] [--requests N] [--runs R] [--base DIR] [--variants JSON] [--policy-defaults] [--top K] [--out DIR]
//   --proto h2:   h2load (16 connections x 10 streams, 1 KiB answers) -> proxy (h2c) -> HAProxy h2c upstream
//   --proto grpc: ghz unary calls (4 connections, 16 in flight) -> proxy (h2c) -> the bench's grpc-js Echo server
//   --proto h1:   h2load --h1 (16 connections, keep-alive, 1 KiB answers) -> proxy -> HAProxy HTTP/1.1 upstream
//   --policy-defaults: also this checkout with every policy at its defaults (bench/lib/skein-config.ts POLICY_DEFAULTS),
//     issue 9's figure as a count (the closed-loop bench/policy-cost.ts judges 5 % with 10-20 % of noise per window)
//   --requests N: requests measured (default 8000); --warmup W: requests before them (default 3 N); --runs R: fresh
//     proxies per variant (default 2), to show it repeats
//   --top K: also print the K functions with the most instructions of their own in the measured window (JIT code named
//     from the proxy's --perf-basic-prof map, which costs ~3 % more instructions: compare runs with or without it, not across)
// Each proxy runs under `valgrind --tool=callgrind` (only the proxy; the load and the upstream run natively) and is
// loaded twice: W requests warm it up (module loading, JIT tiers, first connections), then the counters are zeroed, N more
// are sent and the counts dumped. Instructions per request = the dump's total / N: start-up, warm-up and shutdown are
// left out, and every thread of the process (GC helpers, compilers) is counted. The table also gives the figure without
// V8's optimizing compilers: what a compile costs is large and lands in whichever window it happens to fall (5 % from run
// to run), while the request's own work (JavaScript, builtins, the collector, Node) repeats.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kindOf, readPerfMap, selfCosts, type PerfMap } from './lib/callgrind-out.ts';
import { loadPhase, startUpstream, type Proto } from './lib/h2-workload.ts';
import { freePort, ProcessGroup, type Started } from './lib/process-group.ts';
import { POLICY_DEFAULTS, skeinProxyConfig, withRouteAndCluster } from './lib/skein-config.ts';
import { httpStatus, REPO_DIR } from './lib/skein-proxy.ts';
import { median } from './lib/stats.ts';
import { cliArg, variantsFrom, type Variant } from './lib/variants.ts';

/** A variant, and whether its proxy has every policy at its defaults. */
type IrVariant = Variant & { readonly policyDefaults?: boolean };

/** The proxy's V8 flags as bin/skein.mjs applies them in a pod (bin/process-settings.mjs). */
const { V8_FLAGS } = (await import(new URL('../bin/process-settings.mjs', import.meta.url).href)) as { V8_FLAGS: Record<string, string[]> };

/**
 * Fails unless every request of the measured phase succeeded (an error answer costs less than a forwarded one). In the
 * warm-up a few may fail: the first ones meet a cold proxy that valgrind slows down 50-fold, and on a loaded machine some
 * pass the route's timeout; said on stderr, not counted.
 */
function checkLoad(proto: Proto, out: string, n: number, work: string, warmUp = false): void {
  if (warmUp) {
    try {
      checkLoad(proto, out, n, work);
    } catch (e) {
      process.stderr.write(`warm-up (not counted): ${(e as Error).message.split('\n')[0]}\n`);
    }
    return;
  }
  if (proto !== 'grpc') {
    const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(out);
    const ok = /status codes: (\d+) 2xx/.exec(out);
    if (!m || Number(m[1]) !== n || !ok || Number(ok[1]) !== n) throw new Error(`h2load: not every request succeeded: ${out.slice(-600)}`);
    return;
  }
  const j = JSON.parse(readFileSync(join(work, 'ghz.json'), 'utf8')) as { count: number; statusCodeDistribution: Record<string, number> };
  if (j.count !== n || (j.statusCodeDistribution.OK ?? 0) !== n) throw new Error(`ghz: not every call succeeded: ${JSON.stringify(j.statusCodeDistribution)}`);
}

/** callgrind_control on one process; it waits for the answer (vgdb wakes a process blocked in a system call). */
function control(pid: number, arg: string): void {
  execFileSync('callgrind_control', [arg, String(pid)], { stdio: 'pipe', timeout: 120_000 });
}

/** The plain-JS copy built beforehand, natively: a build inside the measured process would differ from run to run. */
function buildJs(dir: string): void {
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'build-js.ts')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`plain-JS build failed in ${dir}`);
}

interface RunResult { readonly irPerRequest: number; readonly withoutCompiler: number; readonly kinds: Map<string, number>; readonly dump: string; readonly pid: number }

async function measureOnce(group: ProcessGroup, v: IrVariant, proto: Proto, upstreamPort: number, warm: number, n: number, work: string, tag: string, perfMap: boolean): Promise<RunResult> {
  const port = await freePort();
  const admin = await freePort();
  const plain = skeinProxyConfig('bench-instructions', admin, [{ name: 'ir', port, direction: 'outbound', upstreamPort, upstreamProtocol: proto === 'h1' ? 'http1' : 'http2' }]);
  const cfg = v.policyDefaults === true ? withRouteAndCluster(plain, POLICY_DEFAULTS) : plain;
  const cfgFile = join(work, `proxy-${tag}.json`);
  writeFileSync(cfgFile, JSON.stringify(cfg));
  const outPrefix = join(work, `callgrind-${tag}`);
  // The proxy's V8 flags given here, so bin/skein.mjs does not re-execute itself (an exec would leave valgrind). The
  // perf map only for --top: V8 then reports every object the collector moves (Heap::OnMoveEvent), ~3 % more instructions.
  const node = [...(V8_FLAGS.proxy ?? []), ...(perfMap ? ['--perf-basic-prof', '--logfile=/dev/null', '--no-logfile-per-isolate'] : []), ...(v.args ?? [])];
  const proc: Started = group.start(`skein-${tag}`, 'valgrind', ['--tool=callgrind', '--trace-children=no', `--callgrind-out-file=${outPrefix}.%p`,
    process.execPath, ...node, join(v.dir ?? REPO_DIR, 'bin', 'skein.mjs'), 'proxy', '--config', cfgFile], { SKEIN_PROCESS_SETTINGS: '0', ...v.env });
  const deadline = Date.now() + 300_000;
  while ((await httpStatus(`http://127.0.0.1:${admin}/ready`)) !== 200) {
    if (proc.child.exitCode !== null || Date.now() > deadline) throw new Error(`${tag}: proxy not ready: ${proc.output().slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  checkLoad(proto, await loadPhase(group, proto, port, warm, work), warm, work, true);
  control(proc.pid, '--zero');
  checkLoad(proto, await loadPhase(group, proto, port, n, work), n, work);
  control(proc.pid, '--dump=measured');
  const dump = readdirSync(work).filter((f) => f.startsWith(`callgrind-${tag}.${proc.pid}.`)).map((f) => join(work, f)).sort().at(-1);
  proc.child.kill('SIGKILL');
  if (!dump) throw new Error(`${tag}: no callgrind dump in ${work}`);
  const text = readFileSync(dump, 'utf8');
  const totals = /^(?:summary|totals): (\d+)/m.exec(text);
  if (!totals) throw new Error(`${tag}: no totals in ${dump}`);
  const kinds = new Map<string, number>();
  for (const c of selfCosts(text, readPerfMap(`/tmp/perf-${proc.pid}.map`))) kinds.set(kindOf(c.fn), (kinds.get(kindOf(c.fn)) ?? 0) + c.ir / n);
  return { irPerRequest: Number(totals[1]) / n, withoutCompiler: (Number(totals[1]) / n) - (kinds.get('compiler') ?? 0), kinds, dump, pid: proc.pid };
}

function printTop(dump: string, map: PerfMap, k: number, n: number): void {
  const costs = selfCosts(readFileSync(dump, 'utf8'), map);
  const total = costs.reduce((a, c) => a + c.ir, 0);
  console.log(`\n  top ${k} by own instructions (${dump}):`);
  console.log('  | Ir per request | % | function |\n  |---|---|---|');
  for (const c of costs.slice(0, k)) console.log(`  | ${(c.ir / n).toFixed(0)} | ${((100 * c.ir) / total).toFixed(1)} | ${c.fn.slice(0, 140)} |`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const proto = cliArg(argv, '--proto', 'h2') as Proto;
  if (proto !== 'h2' && proto !== 'grpc' && proto !== 'h1') throw new Error('--proto h2|grpc|h1');
  const n = Number(cliArg(argv, '--requests', '8000'));
  const warm = Number(cliArg(argv, '--warmup', String(3 * n)));
  const runs = Number(cliArg(argv, '--runs', '2'));
  const top = Number(cliArg(argv, '--top', '0'));
  const keep = argv.includes('--out');
  const work = keep ? cliArg(argv, '--out', '') : mkdtempSync(join(tmpdir(), 'skein-instructions-'));
  mkdirSync(work, { recursive: true });
  const group = new ProcessGroup();
  try {
    const upstreamPort = await startUpstream(group, proto, work);
    const variants: IrVariant[] = [...variantsFrom(argv), ...(argv.includes('--policy-defaults') ? [{ name: 'policies at defaults', policyDefaults: true }] : [])];
    for (const v of variants) buildJs(v.dir ?? REPO_DIR);
    const results = new Map<string, RunResult[]>(variants.map((v) => [v.name, []]));
    // Interleaved, so that a variant's runs are not all at one end of the session (the count should not care; this shows it).
    for (let r = 0; r < runs; r++) {
      for (const [i, v] of variants.entries()) {
        const res = await measureOnce(group, v, proto, upstreamPort, warm, n, work, `v${i}-r${r}`, top > 0);
        results.get(v.name)!.push(res);
        const kinds = [...res.kinds.entries()].map(([k, x]) => `${k} ${x.toFixed(0)}`).join(', ');
        process.stderr.write(`${v.name} run ${r + 1}: ${res.irPerRequest.toFixed(0)} instructions per ${proto === 'grpc' ? 'call' : 'request'} (${kinds})\n`);
        if (top > 0 && r === 0) printTop(res.dump, readPerfMap(`/tmp/perf-${res.pid}.map`), top, n);
        if (!keep) rmSync(`/tmp/perf-${res.pid}.map`, { force: true });
      }
    }
    const what = { h2: 'HTTP/2 (h2load 16 x 10, HAProxy h2c upstream)', h1: 'HTTP/1.1 (h2load --h1, 16 connections, HAProxy upstream)', grpc: 'gRPC unary (ghz 4 connections, 16 in flight, grpc-js upstream)' }[proto];
    console.log(`\n${what}: ` +
      `instructions per ${proto === 'grpc' ? 'call' : 'request'} (callgrind Ir, all threads), ${warm} warm-up + ${n} measured, ${new Date().toISOString()}`);
    console.log('| variant | without the JIT compilers: median (runs, spread) | all: median (runs) |\n|---|---|---|');
    const cell = (xs: number[], base: number | null): string => {
      const m = median(xs) ?? 0;
      const spread = xs.length > 1 ? `, ${((100 * (Math.max(...xs) - Math.min(...xs))) / m).toFixed(2)} %` : '';
      return `${m.toFixed(0)}${base === null ? '' : ` (${(m / base).toFixed(3)}x)`} (${xs.map((x) => x.toFixed(0)).join(' / ')}${spread})`;
    };
    const first = results.get(variants[0]!.name)!;
    for (const v of variants) {
      const rs = results.get(v.name)!;
      const own = v === variants[0];
      console.log(`| ${v.name} | ${cell(rs.map((x) => x.withoutCompiler), own ? null : median(first.map((x) => x.withoutCompiler)))} | ` +
        `${cell(rs.map((x) => x.irPerRequest), own ? null : median(first.map((x) => x.irPerRequest)))} |`);
    }
    if (keep) console.log(`\ncallgrind dumps in ${work}`);
  } finally {
    group.dispose();
    if (!keep && existsSync(work)) rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) await main();
