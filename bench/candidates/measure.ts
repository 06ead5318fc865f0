// Measures the HTTP stack candidates for the proxy side by side (docs/http-stack-candidates.md): wrk/h2load closed loop,
// 1 KiB responses, 16 connections, 3 x 10 s per candidate, median; req/s and CPU of the proxy process.
// Usage: node bench/candidates/measure.ts [--runs N] [--seconds S]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { upstreamConfig, singleProxyConfig } from '../lib/haproxy-config.ts';
import { h2load, parseH2load, parseWrk, wrk, type ToolRun } from '../lib/load-tools.ts';
import { CpuWindow } from '../lib/proc-stats.ts';
import { freePort, ProcessGroup, waitForPort, type Started } from '../lib/process-group.ts';
import { skeinProxyConfig } from '../lib/skein-config.ts';
import { startSkeinProxy } from '../lib/skein-proxy.ts';
import { median, round } from '../lib/stats.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number): number => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : dflt; };
const RUNS = opt('--runs', 3);
const SECONDS = opt('--seconds', 10);
const CONNS = 16;
const node = process.execPath;
const here = import.meta.dirname;
const dir = mkdtempSync(join(tmpdir(), 'skein-cand-'));
const group = new ProcessGroup();

interface Row { name: string; proto: 'h1' | 'h2'; rps: number | null; proxyCpu: number | null; otherCores: number | null; runs: number[]; errors: number }

async function measure(name: string, proto: 'h1' | 'h2', port: number, proxy: Started | null, upstream: Started): Promise<Row> {
  const url = `http://127.0.0.1:${port}/`;
  const load = (s: number): ToolRun => (proto === 'h1' ? wrk(group, url, CONNS, s) : h2load(group, url, CONNS, 10, s));
  const parse = proto === 'h1' ? parseWrk : parseH2load;
  await load(2).done; // warm-up (JIT, connection pools)
  const rps: number[] = []; const cpu: number[] = []; const other: number[] = []; let errors = 0;
  for (let i = 0; i < RUNS; i++) {
    const t = load(SECONDS);
    const w = new CpuWindow([t.proc.pid, upstream.pid, ...(proxy ? [proxy.pid] : [])]);
    const r = parse(await t.done);
    const c = w.end();
    rps.push(r.rps); errors += r.errors; other.push(c.otherCores);
    if (proxy) cpu.push(c.perPid[2]! / c.seconds);
    process.stderr.write(`${name} run ${i + 1}: ${r.rps.toFixed(0)} req/s, proxy cpu ${proxy ? (c.perPid[2]! / c.seconds).toFixed(2) : '-'}, other load ${c.otherCores.toFixed(2)} cores\n`);
  }
  return { name, proto, rps: median(rps), proxyCpu: median(cpu), otherCores: median(other), runs: rps, errors };
}

async function main(): Promise<void> {
  const [upH1, upH2] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'upstream.cfg'), upstreamConfig(upH1, upH2, 1024, 1));
  const upstream = group.start('upstream-haproxy', 'haproxy', ['-db', '-f', join(dir, 'upstream.cfg')]);
  await waitForPort(upH1, 5000, upstream);
  const rows: Row[] = [];
  rows.push(await measure('direct (no proxy)', 'h1', upH1, null, upstream));

  const candidates: [string, string][] = [
    ['(a) node:http + http.Agent keep-alive', 'node-http-agent.ts'],
    ['(b) node:http + undici Pool', 'node-http-undici.ts'],
    ['(c) lean node:net HTTP/1.1', 'lean-net.ts'],
  ];
  for (const [name, file] of candidates) {
    const port = await freePort();
    const p = group.start(name, node, [join(here, file), String(port), String(upH1)]);
    await waitForPort(port, 10_000, p);
    rows.push(await measure(name, 'h1', port, p, upstream));
    await group.stop(p);
  }
  // The Skein proxy as built today, for comparison (skipped with a note if it does not start).
  const [sk1, sk2, skAdmin] = [await freePort(), await freePort(), await freePort()];
  const skCfg = skeinProxyConfig('candidates', skAdmin, [
    { name: 'h1', port: sk1, direction: 'outbound', upstreamPort: upH1, upstreamProtocol: 'http1' },
    { name: 'h2', port: sk2, direction: 'outbound', upstreamPort: upH2, upstreamProtocol: 'http2' },
  ]);
  const sk = await startSkeinProxy(group, 'skein', skCfg, skAdmin, dir);
  if (sk.ok) {
    rows.push(await measure('(e) Skein proxy as built', 'h1', sk1, sk.proc, upstream));
    rows.push(await measure('(e) Skein proxy as built, h2c', 'h2', sk2, sk.proc, upstream));
    await group.stop(sk.proc);
  } else {
    process.stderr.write(`Skein proxy not measured: ${sk.reason}\n`);
  }
  const [hp1, hp2] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'proxy.cfg'), singleProxyConfig(hp1, hp2, upH1, upH2));
  const hap = group.start('haproxy', 'haproxy', ['-db', '-f', join(dir, 'proxy.cfg')]);
  await waitForPort(hp1, 5000, hap);
  rows.push(await measure('(d) HAProxy 2.6 nbthread 1', 'h1', hp1, hap, upstream));

  rows.push(await measure('direct (no proxy), h2c', 'h2', upH2, null, upstream));
  const h2port = await freePort();
  const h2p = group.start('node:http2', node, [join(here, 'node-http2.ts'), String(h2port), String(upH2)]);
  await waitForPort(h2port, 10_000, h2p);
  rows.push(await measure('node:http2 server + http2 client session', 'h2', h2port, h2p, upstream));
  await group.stop(h2p);
  rows.push(await measure('HAProxy 2.6 nbthread 1, h2c', 'h2', hp2, hap, upstream));

  const direct = (proto: string): number => rows.find((r) => r.proto === proto && r.name.startsWith('direct'))!.rps ?? NaN;
  const hapRps = (proto: string): number => rows.find((r) => r.proto === proto && r.name.includes('HAProxy'))!.rps ?? NaN;
  console.log('| proxy | proto | req/s (median of ' + RUNS + ' x ' + SECONDS + ' s) | runs | vs direct | vs HAProxy | proxy CPU (cores) | req/s per proxy CPU-s | other load (cores) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.proto} | ${r.rps?.toFixed(0)} | ${r.runs.map((x) => x.toFixed(0)).join(' / ')} | ${round((r.rps ?? 0) / direct(r.proto), 2)} | ${round((r.rps ?? 0) / hapRps(r.proto), 2)} | ${r.proxyCpu === null ? '-' : r.proxyCpu.toFixed(2)} | ${r.proxyCpu && r.rps ? Math.round(r.rps / r.proxyCpu) : '-'} | ${r.otherCores?.toFixed(2)} |${r.errors ? ` errors ${r.errors}` : ''}`);
  }
  console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }));
}

try {
  await main();
} finally {
  group.dispose();
  rmSync(dir, { recursive: true, force: true });
}
