// HTTP/2 side by side (issue 10): one Skein proxy with node:http2 on both sides (SKEIN_HTTP2_SERVER=node
// SKEIN_HTTP2_CLIENT=node), with our own server and node:http2's client, and with our own codec on both sides; HAProxy
// nbthread 1, and direct, all against the same HAProxy h2c upstream; h2load closed loop, 16 conns x 10 streams, 1 KiB
// answers, N runs of S seconds each, median; req/s and CPU of the proxy process.
// Usage: node bench/candidates/measure-h2.ts [--runs N] [--seconds S]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { singleProxyConfig, upstreamConfig } from '../lib/haproxy-config.ts';
import { h2load, parseH2load } from '../lib/load-tools.ts';
import { CpuWindow } from '../lib/proc-stats.ts';
import { freePort, ProcessGroup, waitForPort, type Started } from '../lib/process-group.ts';
import { skeinProxyConfig } from '../lib/skein-config.ts';
import { startSkeinProxy } from '../lib/skein-proxy.ts';
import { median, round } from '../lib/stats.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const RUNS = opt('--runs', 3);
const SECONDS = opt('--seconds', 5);
const dir = mkdtempSync(join(tmpdir(), 'skein-h2cand-'));
const group = new ProcessGroup();

interface Row { name: string; rps: number; proxyCpu: number | null; otherCores: number; runs: number[]; errors: number }

async function measure(name: string, port: number, proxy: Started | null, upstream: Started): Promise<Row> {
  const url = `http://127.0.0.1:${port}/`;
  await h2load(group, url, 16, 10, 2).done; // warm-up
  const rps: number[] = [];
  const cpu: number[] = [];
  const other: number[] = [];
  let errors = 0;
  for (let i = 0; i < RUNS; i++) {
    const t = h2load(group, url, 16, 10, SECONDS);
    const w = new CpuWindow([t.proc.pid, upstream.pid, ...(proxy ? [proxy.pid] : [])]);
    const r = parseH2load(await t.done);
    const c = w.end();
    rps.push(r.rps);
    errors += r.errors;
    other.push(c.otherCores);
    if (proxy) cpu.push(c.perPid[2]! / c.seconds);
    process.stderr.write(`${name} run ${i + 1}: ${r.rps.toFixed(0)} req/s, proxy cpu ${proxy ? (c.perPid[2]! / c.seconds).toFixed(2) : '-'}, other load ${c.otherCores.toFixed(2)} cores\n`);
  }
  return { name, rps: median(rps) ?? 0, proxyCpu: proxy ? median(cpu) : null, otherCores: median(other) ?? 0, runs: rps, errors };
}

/** Which HTTP/2 implementations the proxy process uses (the fallback switches; unset: our own). */
interface Variant {
  readonly server?: 'node';
  readonly client?: 'node';
}

async function skein(id: string, name: string, upH2: number, variant: Variant, upstream: Started): Promise<Row | null> {
  const [port, admin] = [await freePort(), await freePort()];
  const cfg = skeinProxyConfig(id, admin, [{ name: 'h2', port, direction: 'outbound', upstreamPort: upH2, upstreamProtocol: 'http2' }]);
  setEnv('SKEIN_HTTP2_SERVER', variant.server);
  setEnv('SKEIN_HTTP2_CLIENT', variant.client);
  const sk = await startSkeinProxy(group, id, cfg, admin, dir);
  setEnv('SKEIN_HTTP2_SERVER', undefined);
  setEnv('SKEIN_HTTP2_CLIENT', undefined);
  if (!sk.ok) {
    process.stderr.write(`${name} not measured: ${sk.reason}\n`);
    return null;
  }
  const row = await measure(name, port, sk.proc, upstream);
  await group.stop(sk.proc);
  return row;
}

function setEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

async function main(): Promise<void> {
  const [upH1, upH2] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'upstream.cfg'), upstreamConfig(upH1, upH2, 1024, 1));
  const upstream = group.start('upstream-haproxy', 'haproxy', ['-db', '-f', join(dir, 'upstream.cfg')]);
  await waitForPort(upH2, 5000, upstream);
  const rows: Row[] = [];
  rows.push(await measure('direct (no proxy), h2c', upH2, null, upstream));
  const variants: [string, string, Variant][] = [
    ['skein-node-h2', 'Skein, node:http2 server and client', { server: 'node', client: 'node' }],
    ['skein-own-server', 'Skein, own server, node:http2 client', { client: 'node' }],
    ['skein-own-h2', 'Skein, own server and own client', {}],
  ];
  for (const [id, name, variant] of variants) {
    const row = await skein(id, name, upH2, variant, upstream);
    if (row) rows.push(row);
  }
  const [hp1, hp2] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'proxy.cfg'), singleProxyConfig(hp1, hp2, upH1, upH2));
  const hap = group.start('haproxy', 'haproxy', ['-db', '-f', join(dir, 'proxy.cfg')]);
  await waitForPort(hp2, 5000, hap);
  rows.push(await measure('HAProxy nbthread 1, h2c', hp2, hap, upstream));
  const direct = rows[0]!.rps;
  const hapRps = rows.at(-1)!.rps;
  console.log(`| proxy | req/s (median of ${RUNS} x ${SECONDS} s) | runs | vs direct | vs HAProxy | proxy CPU (cores) | req/s per proxy CPU-s | other load (cores) |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.runs.map((x) => x.toFixed(0)).join(' / ')} | ${round(r.rps / direct, 2)} | ${round(r.rps / hapRps, 2)} | ${r.proxyCpu === null ? '-' : r.proxyCpu.toFixed(2)} | ${r.proxyCpu ? Math.round(r.rps / r.proxyCpu) : '-'} | ${r.otherCores.toFixed(2)} |${r.errors ? ` errors ${r.errors}` : ''}`);
  }
  console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }));
}

try {
  await main();
} finally {
  group.dispose();
  rmSync(dir, { recursive: true, force: true });
}
