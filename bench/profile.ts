// Profiles one Skein proxy under closed-loop load with `node --cpu-prof` and prints the biggest self-time costs by function.
// Usage: node bench/profile.ts [--proto h1|h2|ingress-tls] [--seconds 15] [--qps N] [--tracing PERCENT] [--policy-defaults] [--out DIR] [--no-pin]   (prints a table; keeps the .cpuprofile in DIR)
// --proto ingress-tls: an ingress (one worker process) terminating TLS for one route, driven by wrk over HTTPS keep-alive.
// --tracing PERCENT: tracing configured, new traces sampled at PERCENT (0-100), spans exported to a stand-in collector.
// --policy-defaults: every policy configured at its defaults (bench/lib/skein-config.ts POLICY_DEFAULTS).
// --qps N (h1 only): fixed rate with fortio over 16 connections instead of closed loop; also prints the proxy's vCPU per 1000 req/s.
// By default the proxy is pinned to CPU 0 and the upstream and load generator to CPU 1 (taskset), so the profile shows the
// proxy's own costs rather than time it spent preempted by its peers.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { upstreamConfig } from './lib/haproxy-config.ts';
import { fortio, h2load, parseFortioJson, parseH2load, parseWrk, wrk } from './lib/load-tools.ts';
import { binDir } from './lib/install-tools.ts';
import { cpuSeconds } from './lib/proc-stats.ts';
import { freePort, ProcessGroup, waitForPort } from './lib/process-group.ts';
import { POLICY_DEFAULTS, skeinIngressConfig, skeinProxyConfig, withRouteAndCluster } from './lib/skein-config.ts';
import { startSkeinProxy } from './lib/skein-proxy.ts';
import { makeCerts } from './lib/tls-certs.ts';

/** The repository's root as profile URLs name it (any checkout or worktree, not only /work/main). */
const REPO_URL = `${pathToFileURL(resolve(import.meta.dirname, '..')).href}/`;

interface CpuProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** Coarse buckets that make a profile readable at a glance: where the proxy's CPU goes. */
export function category(fn: string, file: string): string {
  if (fn === '(idle)') return 'idle (waiting for I/O)';
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'native (V8/libuv/nghttp2, unattributed)';
  if (/^(write|writev|writeLatin1String|writeUtf8String|writeBuffer|writeAsciiString)$/.test(fn)) return 'socket writes (syscalls, incl. loopback TCP)';
  if (file.startsWith('proxy/')) return 'Skein proxy code';
  if (file.startsWith('node_modules/')) return `npm: ${file.split('/')[1]}`;
  if (/^node:_http|^node:internal\/http/.test(file)) return 'node:http / node:http2 internals';
  if (/^node:(events|internal\/streams|stream)/.test(file)) return 'events and streams';
  if (/^node:internal\/(modules|process\/esm)|wasm:/.test(file)) return 'module loading / wasm';
  if (file === '(native/VM)') return 'other native';
  return 'other node internals';
}

export interface SelfCost { readonly fn: string; readonly where: string; readonly ms: number; readonly pct: number }

/** Self time per function (summed over every node with the same name and location), largest first. */
export function selfTimes(profile: CpuProfile, skipFirstMs = 0): { total: number; byFunction: SelfCost[]; byFile: SelfCost[]; byCategory: SelfCost[] } {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const perNode = new Map<number, number>();
  // `skipFirstMs`: samples from the start-up and warm-up left out, so the shares are those of the measured load.
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < skipFirstMs * 1000) continue;
    // timeDeltas[i] is the time since the previous sample; attribute the interval ending at sample i+1 to sample i.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    perNode.set(profile.samples[i]!, (perNode.get(profile.samples[i]!) ?? 0) + dt);
  }
  const byFn = new Map<string, { fn: string; where: string; us: number }>();
  const byFile = new Map<string, number>();
  const byCat = new Map<string, number>();
  let total = 0;
  for (const [id, us] of perNode) {
    const cf = nodes.get(id)!.callFrame;
    const fn = cf.functionName || '(anonymous)';
    // The proxy may run from the plain-JS build (.cache/js/<hash>/, bin/skein.mjs): name its files like the sources.
    // node_modules may be a link to another checkout's install: named from node_modules/ on, wherever it lives.
    const nm = cf.url.lastIndexOf('/node_modules/');
    const rel = nm >= 0 ? cf.url.slice(nm + 1) : cf.url.startsWith(REPO_URL) ? cf.url.slice(REPO_URL.length) : cf.url.replace(/^file:\/\//, '');
    const file = (/^\.cache\/js\/[0-9a-f]+\//.test(rel) ? rel.replace(/^\.cache\/js\/[0-9a-f]+\//, '').replace(/\.js$/, '.ts') : rel) || '(native/VM)';
    const where = cf.url ? `${file}:${cf.lineNumber + 1}` : file;
    const key = `${fn} ${where}`;
    const e = byFn.get(key) ?? { fn, where, us: 0 };
    e.us += us;
    byFn.set(key, e);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
    const cat = category(fn, file);
    byCat.set(cat, (byCat.get(cat) ?? 0) + us);
    total += us;
  }
  const toCost = (fn: string, where: string, us: number): SelfCost => ({ fn, where, ms: us / 1000, pct: (100 * us) / total });
  return {
    total: total / 1000,
    byFunction: [...byFn.values()].sort((a, b) => b.us - a.us).map((e) => toCost(e.fn, e.where, e.us)),
    byFile: [...byFile.entries()].sort((a, b) => b[1] - a[1]).map(([f, us]) => toCost('', f, us)),
    byCategory: [...byCat.entries()].sort((a, b) => b[1] - a[1]).map(([c, us]) => toCost('', c, us)),
  };
}

/** Pins every thread of a process to one CPU; false if taskset is missing or fails. */
function pin(pid: number, cpu: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (n: string, d: string): string => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1]! : d; };
  const proto = arg('--proto', 'h1');
  const seconds = Number(arg('--seconds', '15'));
  const out = arg('--out', mkdtempSync(join(tmpdir(), 'skein-profile-')));
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'skein-profile-work-'));
  const group = new ProcessGroup();
  try {
    const up = { h1: await freePort(), h2: await freePort() };
    writeFileSync(join(work, 'upstream.cfg'), upstreamConfig(up.h1, up.h2, 1024, 1));
    const upstream = group.start('upstream', 'haproxy', ['-db', '-f', join(work, 'upstream.cfg')]);
    await waitForPort(up.h1, 5000, upstream);
    const port = await freePort();
    const admin = await freePort();
    // HTTP/1.1 load (wrk) for h1 and for the ingress; h2load for h2.
    const h1Load = proto !== 'h2';
    const ingress = proto === 'ingress-tls';
    const certs = ingress ? makeCerts(work, 'ingress.bench') : null;
    const plain = certs
      ? skeinIngressConfig('bench-profile', admin, { port, upstreamPort: up.h1, certFile: certs.leafCertPem, keyFile: certs.leafKeyPem })
      : skeinProxyConfig('bench-profile', admin, [
        { name: 'prof', port, direction: 'outbound', upstreamPort: proto === 'h1' ? up.h1 : up.h2, upstreamProtocol: proto === 'h1' ? 'http1' : 'http2' },
      ]);
    const policies = argv.includes('--policy-defaults');
    const cfg = policies ? withRouteAndCluster(plain, POLICY_DEFAULTS) : plain;
    const tracing = arg('--tracing', '');
    if (tracing !== '') {
      const sinkPort = await freePort();
      const sink = group.start('otlp-sink', process.execPath, [join(import.meta.dirname, 'lib', 'otlp-sink.ts'), String(sinkPort)]);
      await waitForPort(sinkPort, 10_000, sink);
      cfg.telemetry = { tracing: { collector: `http://127.0.0.1:${sinkPort}/v1/traces`, samplingPercent: Number(tracing) } };
    }
    const r = await startSkeinProxy(group, 'skein-profile', cfg, admin, work, ['--cpu-prof', '--cpu-prof-dir', out], undefined, ingress ? { proxyArgs: ['--workers', '1'] } : {});
    if (!r.ok) throw new Error(r.reason);
    const pinned = !argv.includes('--no-pin') && pin(r.proc.pid, 0) && pin(upstream.pid, 1);
    const url = `${ingress ? 'https' : 'http'}://127.0.0.1:${port}/`;
    const qps = Number(arg('--qps', '0'));
    const cpuBefore = cpuSeconds(r.proc.pid) ?? 0;
    const t0 = performance.now();
    const json = join(work, 'fortio.json');
    const load = qps > 0 ? fortio(group, join(binDir(), 'fortio'), url, qps, 16, seconds, json) : h1Load ? wrk(group, url, 16, seconds) : h2load(group, url, 16, 10, seconds);
    if (pinned) pin(load.proc.pid, 1);
    const loadOut = await load.done;
    const res = qps > 0 ? { rps: parseFortioJson(json).actualQps } : (h1Load ? parseWrk : parseH2load)(loadOut);
    const cpu = ((cpuSeconds(r.proc.pid) ?? 0) - cpuBefore) / ((performance.now() - t0) / 1000);
    await group.stop(r.proc); // SIGTERM: the proxy drains and exits, and Node writes the profile on exit
    const file = readdirSync(out).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(out, f)).sort().at(-1);
    if (!file) throw new Error(`no .cpuprofile in ${out} (did the proxy exit cleanly on SIGTERM?)`);
    const s = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    const lines = [`# Skein proxy CPU profile: ${proto}${tracing !== '' ? `, tracing at ${tracing} %` : ''}${policies ? ', every policy at its defaults' : ''}, ${qps > 0 ? `fortio -qps ${qps}` : 'wrk/h2load'} 16 conns, ${seconds} s, ${Math.round(res.rps)} req/s while profiling` +
      (pinned ? ' (proxy pinned to CPU 0, upstream and load generator to CPU 1)' : ' (not pinned)'), '',
      `proxy CPU ${cpu.toFixed(3)} cores (from /proc, profiler overhead included): ${Math.round(res.rps / cpu)} req per CPU-second, ${((1000 * cpu) / res.rps).toFixed(3)} vCPU per 1000 req/s`, '',
      `profile: ${file} (total sampled ${s.total.toFixed(0)} ms)`, '', '| self % | category |', '|---|---|',
      ...s.byCategory.filter((c) => c.pct >= 0.05).map((c) => `| ${c.pct.toFixed(1)} | ${c.where} |`), '', '| self % | self ms | function | where |', '|---|---|---|---|',
      ...s.byFunction.slice(0, 25).map((c) => `| ${c.pct.toFixed(1)} | ${c.ms.toFixed(0)} | ${c.fn} | ${c.where} |`), '',
      '| self % | file |', '|---|---|', ...s.byFile.slice(0, 15).map((c) => `| ${c.pct.toFixed(1)} | ${c.where} |`)];
    writeFileSync(join(out, `profile-${proto}.md`), lines.join('\n') + '\n');
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    group.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) await main();
