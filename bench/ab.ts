// Before/after in one run: Skein proxies from this checkout and from other checkouts or with other V8 flags, and HAProxy
// nbthread 1, all against one HAProxy upstream, measured in interleaved rounds (so the machine's noise falls on every
// variant alike); the figure that moves least with other load is requests per proxy CPU-second.
// Usage: node bench/ab.ts [--path h2-h2|h2-h1|h1-h1] [--runs N] [--seconds S] [--base DIR] [--variants JSON] [--no-haproxy]
//   --base DIR     also runs the proxy of another checkout (e.g. `git archive <commit> | tar -x -C DIR`, node_modules linked)
//   --variants '[{"name":"semi-4","args":["--max-semi-space-size=4"],"env":{"K":"V"},"dir":"/path"}]'   more variants; a variant's
//     "config" is merged into the proxy config's top level, "route" into its route and "cluster" into its cluster, e.g.
//     '[{"name":"tracing 0 %","config":{"telemetry":{"tracing":{"collector":"http://127.0.0.1:9/v1/traces","samplingPercent":0}}}}]'
//   --policy-defaults  also runs this checkout with every policy at its defaults (bench/lib/skein-config.ts POLICY_DEFAULTS)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { singleProxyConfig, upstreamConfig } from './lib/haproxy-config.ts';
import { h2load, parseH2load, parseWrk, wrk } from './lib/load-tools.ts';
import { CpuWindow, rssMb } from './lib/proc-stats.ts';
import { freePort, ProcessGroup, waitForPort, type Started } from './lib/process-group.ts';
import { POLICY_DEFAULTS, skeinProxyConfig, withRouteAndCluster } from './lib/skein-config.ts';
import { REPO_DIR, startSkeinProxy } from './lib/skein-proxy.ts';
import { median, medianOfRatios } from './lib/stats.ts';
import { cliArg, variantsFrom, type Variant } from './lib/variants.ts';

/** A variant may also change the proxy's config (the policy-cost variants). */
interface AbVariant extends Variant {
  readonly config?: Readonly<Record<string, unknown>>;
  readonly route?: object;
  readonly cluster?: object;
}

interface Target {
  readonly name: string;
  readonly port: number;
  readonly proc: Started;
  readonly rps: number[];
  readonly cpu: number[];
  readonly perCpuSecond: number[];
  readonly other: number[];
  /** RSS (MiB) right after each run. */
  readonly rss: number[];
  errors: number;
}

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => cliArg(argv, name, dflt);
const path = arg('--path', 'h2-h2');
if (!['h2-h2', 'h2-h1', 'h1-h1'].includes(path)) throw new Error(`--path must be h2-h2, h2-h1 or h1-h1, not ${path}`);
const runs = Number(arg('--runs', '5'));
const seconds = Number(arg('--seconds', '5'));
const downH2 = path.startsWith('h2');
const upH2Cluster = path.endsWith('h2');
const variants = variantsFrom<AbVariant>(argv);
if (argv.includes('--policy-defaults')) variants.push({ name: 'policies at defaults', ...POLICY_DEFAULTS });

const group = new ProcessGroup();
const work = mkdtempSync(join(tmpdir(), 'skein-ab-'));

async function main(): Promise<void> {
  const [upH1, upH2] = [await freePort(), await freePort()];
  writeFileSync(join(work, 'upstream.cfg'), upstreamConfig(upH1, upH2, 1024, 1));
  const upstream = group.start('upstream', 'haproxy', ['-db', '-f', join(work, 'upstream.cfg')]);
  await waitForPort(upH2, 5000, upstream);
  const targets: Target[] = [];
  const target = (name: string, port: number, proc: Started): Target => ({ name, port, proc, rps: [], cpu: [], perCpuSecond: [], other: [], rss: [], errors: 0 });
  // Every port first: a port found free may be taken by an outgoing connection of a proxy already started.
  const ports: [number, number][] = [];
  for (let i = 0; i < variants.length + 1; i++) ports.push([await freePort(), await freePort()]);
  for (const [i, v] of variants.entries()) {
    const [port, admin] = ports[i]!;
    const base = skeinProxyConfig(`ab-${i}`, admin, [{ name: 'ab', port, direction: 'outbound', upstreamPort: upH2Cluster ? upH2 : upH1, upstreamProtocol: upH2Cluster ? 'http2' : 'http1' }]);
    const cfg = { ...withRouteAndCluster(base, { ...(v.route ? { route: v.route } : {}), ...(v.cluster ? { cluster: v.cluster } : {}) }), ...v.config };
    const r = await startSkeinProxy(group, `ab-${i}`, cfg, admin, work, v.args ?? [], 30_000, { repoDir: v.dir ?? REPO_DIR, env: v.env });
    if (!r.ok) throw new Error(r.reason);
    targets.push(target(v.name, port, r.proc));
  }
  if (!argv.includes('--no-haproxy')) {
    const [h1, h2] = ports[variants.length]!;
    writeFileSync(join(work, 'proxy.cfg'), singleProxyConfig(h1, h2, upH1, upH2));
    const hap = group.start('haproxy', 'haproxy', ['-db', '-f', join(work, 'proxy.cfg')]);
    await waitForPort(downH2 ? h2 : h1, 5000, hap);
    targets.push(target(`HAProxy nbthread 1 (${downH2 ? 'h2-h2' : 'h1-h1'})`, downH2 ? h2 : h1, hap));
  }
  const load = (port: number, s: number) => (downH2 ? h2load(group, `http://127.0.0.1:${port}/`, 16, 10, s) : wrk(group, `http://127.0.0.1:${port}/`, 16, s));
  for (const t of targets) await load(t.port, 2).done; // warm-up
  for (let i = 0; i < runs; i++) {
    // Rotate the order each round: no variant always runs right after the same one.
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(i + k) % targets.length]!;
      const run = load(t.port, seconds);
      const w = new CpuWindow([run.proc.pid, upstream.pid, t.proc.pid]);
      const r = (downH2 ? parseH2load : parseWrk)(await run.done);
      const c = w.end();
      const cpu = c.perPid[2]! / c.seconds;
      t.rps.push(r.rps);
      t.cpu.push(cpu);
      t.perCpuSecond.push(r.rps / cpu);
      t.other.push(c.otherCores);
      t.rss.push(rssMb(t.proc.pid) ?? 0);
      t.errors += r.errors;
      process.stderr.write(`${t.name} run ${i + 1}: ${r.rps.toFixed(0)} req/s, proxy ${cpu.toFixed(2)} cores, ${(r.rps / cpu).toFixed(0)} req per CPU-s, other load ${c.otherCores.toFixed(2)}\n`);
    }
  }
  const hap = argv.includes('--no-haproxy') ? null : targets.at(-1)!;
  const hapRps = hap === null ? null : median(hap.rps)!;
  const hapPer = hap === null ? null : median(hap.perCpuSecond)!;
  console.log(`${path}, ${runs} x ${seconds} s interleaved, ${new Date().toISOString()}`);
  // Against the first variant as the rounds' own ratios (its windows and the variant's ran back to back each round).
  const first = targets[0]!;
  console.log(`| proxy | req/s (median) | vs HAProxy | proxy cores | req per proxy CPU-s (median) | vs HAProxy | CPU per request vs ${first.name} (median of the rounds' ratios) | RSS MiB (max) | other load (cores) |`);
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const t of targets) {
    const rps = median(t.rps)!;
    const per = median(t.perCpuSecond)!;
    const ratio = (x: number, ref: number | null): string => (ref === null ? '-' : (x / ref).toFixed(2));
    console.log(`| ${t.name} | ${rps.toFixed(0)} | ${ratio(rps, hapRps)} | ${median(t.cpu)!.toFixed(2)} | ${per.toFixed(0)} | ${ratio(per, hapPer)} | ${medianOfRatios(first.perCpuSecond, t.perCpuSecond)!.toFixed(3)} | ${Math.max(...t.rss).toFixed(0)} | ${median(t.other)!.toFixed(2)} |${t.errors ? ` errors ${t.errors}` : ''}`);
  }
}

try {
  await main();
} finally {
  group.dispose();
  rmSync(work, { recursive: true, force: true });
}
