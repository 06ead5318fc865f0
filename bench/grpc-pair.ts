// The gRPC sidecar pair alone, before/after in one run: ghz unary calls at a fixed rate through the HAProxy mTLS pair and
// through Skein mTLS pairs (this checkout, and optionally another checkout or other V8 flags), in interleaved rounds, with
// p50/p99 and each proxy's vCPU per 1000 calls; optionally a CPU profile of each Skein proxy with its top costs.
// Usage: node bench/grpc-pair.ts [--runs N] [--seconds S] [--qps N] [--base DIR] [--variants JSON] [--profile DIR]
//   --base DIR      also a pair from another checkout (`git archive <commit> | tar -x -C DIR`, node_modules linked)
//   --variants      '[{"name":"semi-4","args":["--max-semi-space-size=4"],"env":{"K":"V"},"dir":"/path"}]'
//   --profile DIR   `--cpu-prof` on every Skein proxy; prints each one's top self-time costs (bench/profile.ts)
//   --only KIND     measure only `skein`, `haproxy`, `node` or `direct` (e.g. to strace one pair without the others' windows)
//   --relay         also a pair of Node processes that only relay bytes over the same mTLS (bench/candidates/tls-relay.ts):
//                   the socket-event floor of any proxy on Node's net and tls
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_PROTO, ECHO_CALL } from './grpc/grpc-server.ts';
import { pairInboundConfig, pairOutboundConfig, type PairPorts } from './lib/haproxy-config.ts';
import { binDir } from './lib/install-tools.ts';
import { ghz, parseGhzJson } from './lib/load-tools.ts';
import { BENCH_CLIENT_ID, BENCH_SERVER_ID, benchMeshCa, meshPairConfigs, writeWorkloadIdentity } from './lib/mesh-identity.ts';
import { CpuWindow, rssMb } from './lib/proc-stats.ts';
import { freePort, ProcessGroup, waitForPort, type Started } from './lib/process-group.ts';
import { skeinProxyConfig } from './lib/skein-config.ts';
import { REPO_DIR, startSkeinProxy } from './lib/skein-proxy.ts';
import { median } from './lib/stats.ts';
import { cliArg, variantsFrom } from './lib/variants.ts';
import { makeCerts } from './lib/tls-certs.ts';
import { selfTimes } from './profile.ts';

interface Target {
  readonly name: string;
  readonly port: number;
  /** The pair's two proxies (outbound first); none for direct. */
  readonly procs: readonly Started[];
  readonly p50: number[];
  readonly p99: number[];
  /** vCPU per 1000 calls/s of the outbound and the inbound proxy, per run. */
  readonly vcpuOut: number[];
  readonly vcpuIn: number[];
  readonly other: number[];
  /** RSS (MiB) of the busier-in-memory proxy of the pair right after each run. */
  readonly rss: number[];
  errors: number;
}

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => cliArg(argv, name, dflt);
const runs = Number(arg('--runs', '3'));
const seconds = Number(arg('--seconds', '10'));
const qps = Number(arg('--qps', '1000'));
const profileDir = argv.includes('--profile') ? arg('--profile', '') : null;
const variants = variantsFrom(argv);

const group = new ProcessGroup();
const work = mkdtempSync(join(tmpdir(), 'skein-grpc-pair-'));

async function main(): Promise<void> {
  const ghzBin = join(binDir(), 'ghz');
  // Every port first: a port found free may be taken by an outgoing connection of a proxy already started.
  const appPort = await freePort();
  const pair: PairPorts = { outH1: await freePort(), outGrpc: await freePort(), inTlsH1: await freePort(), inTlsGrpc: await freePort(), appH1: await freePort(), appGrpc: appPort };
  const skPorts: { out: number; in: number; adminOut: number; adminIn: number }[] = [];
  for (let i = 0; i < variants.length; i++) skPorts.push({ out: await freePort(), in: await freePort(), adminOut: await freePort(), adminIn: await freePort() });

  const app = group.start('grpc-server', process.execPath, [join(import.meta.dirname, 'grpc', 'grpc-server.ts'), String(appPort)]);
  await waitForPort(appPort, 10_000, app);
  const certs = makeCerts(work);
  const cfg = (name: string, text: string): string => { const f = join(work, name); writeFileSync(f, text); return f; };
  const hapIn = group.start('haproxy-pair-in', 'haproxy', ['-db', '-f', cfg('in.cfg', pairInboundConfig(pair, certs.leafWithKeyPem, certs.caPem))]);
  const hapOut = group.start('haproxy-pair-out', 'haproxy', ['-db', '-f', cfg('out.cfg', pairOutboundConfig(pair, certs.leafWithKeyPem, certs.caPem))]);
  await waitForPort(pair.inTlsGrpc, 10_000, hapIn);
  await waitForPort(pair.outGrpc, 10_000, hapOut);

  const target = (name: string, port: number, procs: readonly Started[]): Target => ({ name, port, procs, p50: [], p99: [], vcpuOut: [], vcpuIn: [], other: [], rss: [], errors: 0 });
  const targets: Target[] = [target('direct', appPort, []), target('HAProxy pair (mTLS)', pair.outGrpc, [hapOut, hapIn])];
  if (argv.includes('--relay')) {
    const relay = join(import.meta.dirname, 'candidates', 'tls-relay.ts');
    const rp = { out: await freePort(), in: await freePort() };
    const rIn = group.start('relay-in', process.execPath, [relay, 'in', String(rp.in), String(appPort), certs.leafWithKeyPem, certs.caPem]);
    const rOut = group.start('relay-out', process.execPath, [relay, 'out', String(rp.out), String(rp.in), certs.leafWithKeyPem, certs.caPem]);
    await waitForPort(rp.in, 10_000, rIn);
    await waitForPort(rp.out, 10_000, rOut);
    targets.push(target('Node byte relay pair (mTLS)', rp.out, [rOut, rIn]));
  }
  const meshCa = benchMeshCa();
  const idDir = { in: join(work, 'id-in'), out: join(work, 'id-out') };
  writeWorkloadIdentity(meshCa, BENCH_SERVER_ID, idDir.in);
  writeWorkloadIdentity(meshCa, BENCH_CLIENT_ID, idDir.out);
  if (profileDir !== null) mkdirSync(profileDir, { recursive: true });
  const profiles: { name: string; dir: string; startedAt: number }[] = [];
  for (const [i, v] of variants.entries()) {
    const p = skPorts[i]!;
    const inbound = skeinProxyConfig(`grpc-in-${i}`, p.adminIn, [{ name: 'in-grpc', port: p.in, direction: 'inbound', upstreamPort: appPort, upstreamProtocol: 'http2' }]);
    const outbound = skeinProxyConfig(`grpc-out-${i}`, p.adminOut, [{ name: 'out-grpc', port: p.out, direction: 'outbound', upstreamPort: p.in, upstreamProtocol: 'http2' }]);
    meshPairConfigs(inbound, outbound, BENCH_SERVER_ID);
    const procs: Started[] = [];
    for (const [role, c, admin, id] of [['out', outbound, p.adminOut, idDir.out], ['in', inbound, p.adminIn, idDir.in]] as const) {
      const name = `skein-${i}-${role}`;
      const dir = profileDir === null ? null : join(profileDir, name);
      if (dir !== null) { mkdirSync(dir, { recursive: true }); profiles.push({ name: `${v.name} ${role}bound`, dir, startedAt: performance.now() }); }
      const args = [...(v.args ?? []), ...(dir === null ? [] : ['--cpu-prof', '--cpu-prof-interval', '200', '--cpu-prof-dir', dir])];
      const r = await startSkeinProxy(group, name, c, admin, work, args, 30_000, { repoDir: v.dir ?? REPO_DIR, env: v.env, proxyArgs: ['--workload-identity', id] });
      if (!r.ok) throw new Error(r.reason);
      procs.push(r.proc);
    }
    targets.push(target(`Skein pair, ${v.name}`, p.out, procs));
  }

  const load = (t: Target, s: number, json: string) => ghz(group, ghzBin, `127.0.0.1:${t.port}`, BENCH_PROTO, ECHO_CALL, qps, 4, s, json);
  // --only: one kind of target alone (e.g. to strace or profile it without the other windows in between).
  if (argv.includes('--only')) {
    const only = arg('--only', '').toLowerCase();
    for (let i = targets.length - 1; i >= 0; i--) if (!targets[i]!.name.toLowerCase().startsWith(only)) targets.splice(i, 1);
  }
  for (const t of targets) await load(t, 2, join(work, 'warm.json')).done;
  const measuredFrom = performance.now();
  for (let i = 0; i < runs; i++) {
    // Rotate the order each round: no target always runs right after the same one.
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(i + k) % targets.length]!;
      const json = join(work, `ghz-${k}.json`);
      const run = load(t, seconds, json);
      const w = new CpuWindow([run.proc.pid, app.pid, ...t.procs.map((p) => p.pid)]);
      await run.done;
      const c = w.end();
      const r = parseGhzJson(json);
      const perK = (idx: number): number => c.perPid[2 + idx]! / c.seconds / (r.actualQps / 1000);
      t.p50.push(r.p50);
      t.p99.push(r.p99);
      if (t.procs.length === 2) { t.vcpuOut.push(perK(0)); t.vcpuIn.push(perK(1)); }
      t.other.push(c.otherCores);
      if (t.procs.length === 2) t.rss.push(Math.max(...t.procs.map((p) => rssMb(p.pid) ?? 0)));
      t.errors += r.errors;
      if (r.errorKinds) process.stderr.write(`${t.name} run ${i + 1} errors: ${r.errorKinds}\n`);
      process.stderr.write(`${t.name} run ${i + 1}: p50 ${r.p50.toFixed(3)} p99 ${r.p99.toFixed(3)} ms, ${r.actualQps.toFixed(0)} calls/s` +
        (t.procs.length === 2 ? `, vCPU/1000 out ${perK(0).toFixed(3)} in ${perK(1).toFixed(3)}` : '') + `, other load ${c.otherCores.toFixed(2)}\n`);
    }
  }
  const hap = targets.find((t) => t.name.startsWith('HAProxy')) ?? targets[0]!;
  const f = (xs: number[], d = 3): string => (xs.length ? median(xs)!.toFixed(d) : '-');
  const ratio = (xs: number[], ref: number[]): string => (xs.length && ref.length ? (median(xs)! / median(ref)!).toFixed(2) : '-');
  const busier = (t: Target): number[] => t.vcpuOut.map((o, j) => Math.max(o, t.vcpuIn[j]!));
  console.log(`gRPC unary through the pair, ghz ${qps} calls/s over 4 connections, ${runs} x ${seconds} s interleaved, ${new Date().toISOString()}`);
  console.log('| target | p50 ms | p99 ms | p99 vs HAProxy | vCPU/1000 out | vCPU/1000 in | busier vs HAProxy | RSS MiB (max) | other load (cores) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const t of targets) {
    console.log(`| ${t.name} | ${f(t.p50)} | ${f(t.p99)} | ${t.procs.length ? ratio(t.p99, hap.p99) : '-'} | ${f(t.vcpuOut)} | ${f(t.vcpuIn)} | ${t.procs.length ? ratio(busier(t), busier(hap)) : '-'} | ${t.rss.length ? Math.max(...t.rss).toFixed(0) : '-'} | ${f(t.other, 2)} |${t.errors ? ` errors ${t.errors}` : ''}`);
  }
  if (profileDir === null) return;
  // SIGTERM: each proxy drains and exits, and Node writes its profile on exit.
  for (const t of targets.filter((x) => x.name.startsWith('Skein'))) for (const p of t.procs) await group.stop(p);
  for (const p of profiles) {
    const file = readdirSync(p.dir).filter((x) => x.endsWith('.cpuprofile')).map((x) => join(p.dir, x)).sort().at(-1);
    if (!file) { console.log(`\n${p.name}: no profile written`); continue; }
    // Start-up and warm-up left out: the shares are those of the measured windows (the other targets' windows included).
    const s = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof selfTimes>[0], measuredFrom - p.startedAt);
    const idle = s.byFunction.find((x) => x.fn === '(idle)')?.pct ?? 0;
    console.log(`\n${p.name} (${file}; ${idle.toFixed(1)} % idle; shares of busy time):`);
    for (const c of s.byFunction.filter((x) => x.fn !== '(idle)').slice(0, 15)) {
      console.log(`  ${((100 * c.pct) / (100 - idle)).toFixed(1).padStart(5)} %  ${c.fn}  ${c.where}`);
    }
  }
}

try {
  await main();
} finally {
  group.dispose();
  rmSync(work, { recursive: true, force: true });
}
