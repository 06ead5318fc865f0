// The ingress against HAProxy terminating TLS for the same route (issue 14): `skein proxy` in ingress mode from a file
// config (one HTTPS listener, one route, a loopback upstream) and HAProxy with the same certificate, suites, route and
// upstream, measured side by side: closed-loop HTTPS keep-alive throughput on one core (one worker process, nbthread 1)
// and on all cores (workers = nbthread = cores), the latency each adds over the plain upstream at a fixed rate, and the
// server CPU of a new TLS connection (full handshake and one request). Called by bench/run.ts; alone:
// `node bench/ingress-tls.ts [--quick] [--runs N] [--no-install]` prints its table and summary.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { AEAD_CIPHERS } from '../proxy/listener/tls-contexts.ts';
import { connectionCost } from './lib/connection-cost.ts';
import { tlsTerminationConfig, upstreamConfig } from './lib/haproxy-config.ts';
import { binDir, installTools } from './lib/install-tools.ts';
import { fortio, parseFortioJson, parseWrk, wrk, type LatencyResult } from './lib/load-tools.ts';
import { childPids, cpuSeconds, CpuWindow } from './lib/proc-stats.ts';
import { freePort, ProcessGroup, waitForPort, type Started } from './lib/process-group.ts';
import type { LoadSectionOptions } from './lib/section-options.ts';
import type { TableRow } from './lib/report-table.ts';
import { skeinIngressConfig } from './lib/skein-config.ts';
import { startSkeinProxy } from './lib/skein-proxy.ts';
import { median, round } from './lib/stats.ts';
import { makeCerts } from './lib/tls-certs.ts';

/** The name on the certificate; fortio dials it (`-resolve 127.0.0.1`), so SNI and Host carry it. */
export const INGRESS_HOST = 'ingress.bench';
/** The four edge proxies: each product on one core and on all cores. */
export const EDGES = ['ingress-1', 'haproxy-1', 'ingress-all', 'haproxy-all'] as const;
export type EdgeKey = (typeof EDGES)[number];
/** Fixed-rate latency is measured on the one-core pair (as BENCHMARKS.md's references are nbthread 1), next to direct. */
export const LATENCY_TARGETS = ['direct', 'ingress-1', 'haproxy-1'] as const;
export type LatencyTarget = (typeof LATENCY_TARGETS)[number];
const BODY_BYTES = 1024;
/** A window is flagged when processes that are not ours used more than this many cores on average (as in run.ts). */
const OTHER_LOAD_FLAG_CORES = 0.2;

/** The run's upstream answers 1 KiB. */
export interface IngressTlsOptions extends LoadSectionOptions {
  /** New TLS connections measured per one-core proxy for the handshake cost. */
  readonly handshakes: number;
  /** Worker processes of the ingress and nbthread of HAProxy for "all cores"; default os.availableParallelism(). */
  readonly cores?: number;
  /** Pids of the caller's own processes (upstream, vmstat, other proxies), whose CPU is not "other load". */
  readonly ownPids?: readonly number[];
  /** Where to copy the generated configs (the results directory's configs/). */
  readonly configDir?: string;
}

export interface ThroughputWindow {
  readonly rps: number;
  readonly errors: number;
  /** CPU cores the proxy used (all its processes), averaged over the window. */
  readonly proxyCores: number;
  readonly otherLoadCores: number;
  readonly flagged: boolean;
}

export interface HandshakeCost {
  /** Client milliseconds per new connection (handshake, one GET, close), one after the other. */
  readonly ms: number;
  /** Server CPU milliseconds per new connection. */
  readonly serverCpuMs: number;
}

/** Everything measured, before any median: what summarizeIngressTls reduces. */
export interface IngressTlsRaw {
  readonly cores: number;
  readonly throughput: Readonly<Record<EdgeKey, readonly ThroughputWindow[]>>;
  readonly latency: Readonly<Record<LatencyTarget, readonly LatencyResult[]>>;
  readonly handshake: Readonly<Record<'ingress-1' | 'haproxy-1', readonly HandshakeCost[]>>;
  /** What each side negotiated with a default client: protocol, cipher, ALPN. */
  readonly negotiated: Readonly<Record<'ingress' | 'haproxy', string>>;
}

/** The report keys (bench/run.ts puts them in its summary line); null where a figure is missing. */
export interface IngressTlsSummary {
  readonly ingress_tls_cores: number;
  readonly ingress_tls_rps_1core: number | null;
  readonly haproxy_tls_rps_1core: number | null;
  readonly ingress_tls_rps_ratio_1core: number | null;
  readonly ingress_tls_rps_allcores: number | null;
  readonly haproxy_tls_rps_allcores: number | null;
  readonly ingress_tls_rps_ratio_allcores: number | null;
  /** Requests per CPU-second of the proxy (all its processes) in the throughput windows: moves least with other load. */
  readonly ingress_tls_req_per_cpu_s_1core: number | null;
  readonly haproxy_tls_req_per_cpu_s_1core: number | null;
  readonly ingress_tls_req_per_cpu_s_allcores: number | null;
  readonly haproxy_tls_req_per_cpu_s_allcores: number | null;
  readonly ingress_tls_added_p50_ms: number | null;
  readonly haproxy_tls_added_p50_ms: number | null;
  readonly ingress_tls_added_p99_ms: number | null;
  readonly haproxy_tls_added_p99_ms: number | null;
  /** Null when HAProxy's added p99 is not above zero (lost in the noise): no meaningful ratio. */
  readonly ingress_tls_added_p99_ratio: number | null;
  readonly ingress_tls_handshake_cpu_ms: number | null;
  readonly haproxy_tls_handshake_cpu_ms: number | null;
  readonly ingress_tls_handshake_cpu_ratio: number | null;
}

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b <= 0 ? null : round(a / b, 3));

/** Medians over the runs, latency added over direct (per percentile), and each Skein figure over HAProxy's. */
export function summarizeIngressTls(raw: IngressTlsRaw): IngressTlsSummary {
  const rps = (k: EdgeKey): number | null => median(raw.throughput[k].map((w) => w.rps));
  const perCpu = (k: EdgeKey): number | null => round(median(raw.throughput[k].map((w) => (w.proxyCores > 0 ? w.rps / w.proxyCores : null))), 0);
  const pct = (k: LatencyTarget, p: 'p50' | 'p99'): number | null => median(raw.latency[k].map((l) => l[p]));
  const added = (k: LatencyTarget, p: 'p50' | 'p99'): number | null => {
    const a = pct(k, p);
    const d = pct('direct', p);
    return a === null || d === null ? null : a - d;
  };
  const hs = (k: 'ingress-1' | 'haproxy-1'): number | null => median(raw.handshake[k].map((h) => h.serverCpuMs));
  const r0 = (x: number | null): number | null => round(x, 0);
  const r3 = (x: number | null): number | null => round(x, 3);
  return {
    ingress_tls_cores: raw.cores,
    ingress_tls_rps_1core: r0(rps('ingress-1')),
    haproxy_tls_rps_1core: r0(rps('haproxy-1')),
    ingress_tls_rps_ratio_1core: ratio(rps('ingress-1'), rps('haproxy-1')),
    ingress_tls_rps_allcores: r0(rps('ingress-all')),
    haproxy_tls_rps_allcores: r0(rps('haproxy-all')),
    ingress_tls_rps_ratio_allcores: ratio(rps('ingress-all'), rps('haproxy-all')),
    ingress_tls_req_per_cpu_s_1core: perCpu('ingress-1'),
    haproxy_tls_req_per_cpu_s_1core: perCpu('haproxy-1'),
    ingress_tls_req_per_cpu_s_allcores: perCpu('ingress-all'),
    haproxy_tls_req_per_cpu_s_allcores: perCpu('haproxy-all'),
    ingress_tls_added_p50_ms: r3(added('ingress-1', 'p50')),
    haproxy_tls_added_p50_ms: r3(added('haproxy-1', 'p50')),
    ingress_tls_added_p99_ms: r3(added('ingress-1', 'p99')),
    haproxy_tls_added_p99_ms: r3(added('haproxy-1', 'p99')),
    ingress_tls_added_p99_ratio: ratio(added('ingress-1', 'p99'), added('haproxy-1', 'p99')),
    ingress_tls_handshake_cpu_ms: r3(hs('ingress-1')),
    haproxy_tls_handshake_cpu_ms: r3(hs('haproxy-1')),
    ingress_tls_handshake_cpu_ratio: ratio(hs('ingress-1'), hs('haproxy-1')),
  };
}

/** The summary of a scenario that measured nothing (it failed, or did not run): every figure null. */
export function nullIngressTlsSummary(cores = availableParallelism()): IngressTlsSummary {
  return summarizeIngressTls({
    cores,
    throughput: { 'ingress-1': [], 'haproxy-1': [], 'ingress-all': [], 'haproxy-all': [] },
    latency: { direct: [], 'ingress-1': [], 'haproxy-1': [] },
    handshake: { 'ingress-1': [], 'haproxy-1': [] },
    negotiated: { ingress: 'n/a', haproxy: 'n/a' },
  });
}

/** The rows this scenario adds to the harness's headline table. */
export function ingressTlsRows(s: IngressTlsSummary, qps: number, connections: number): TableRow[] {
  // No target is set for the ingress yet (BENCHMARKS.md has none): figures and ratios only.
  return [
    { figure: `ingress HTTPS keep-alive, 1 core (wrk, ${connections} conns)`, skein: s.ingress_tls_rps_1core, reference: s.haproxy_tls_rps_1core, referenceName: 'HAProxy nbthread 1 terminating TLS', unit: 'req/s', target: 'report', met: null },
    { figure: `ingress HTTPS keep-alive, all ${s.ingress_tls_cores} cores (wrk, ${connections} conns)`, skein: s.ingress_tls_rps_allcores, reference: s.haproxy_tls_rps_allcores, referenceName: `HAProxy nbthread ${s.ingress_tls_cores}`, unit: 'req/s', target: 'report', met: null, note: `${s.ingress_tls_cores} worker processes` },
    { figure: 'ingress HTTPS keep-alive, req per proxy CPU-second, 1 core', skein: s.ingress_tls_req_per_cpu_s_1core, reference: s.haproxy_tls_req_per_cpu_s_1core, referenceName: 'HAProxy nbthread 1', unit: 'req/s', target: 'report', met: null, note: 'the figure that moves least with other load' },
    { figure: `ingress HTTPS added p50 @${qps} req/s, ${connections} conns, 1 core`, skein: s.ingress_tls_added_p50_ms, reference: s.haproxy_tls_added_p50_ms, referenceName: 'HAProxy terminating TLS', unit: 'ms', target: 'report', met: null, note: 'over plain HTTP direct' },
    { figure: `ingress HTTPS added p99 @${qps} req/s, ${connections} conns, 1 core`, skein: s.ingress_tls_added_p99_ms, reference: s.haproxy_tls_added_p99_ms, referenceName: 'HAProxy terminating TLS', unit: 'ms', target: 'report', met: null, note: 'over plain HTTP direct' },
    { figure: 'ingress server CPU per new TLS connection (handshake + 1 request)', skein: s.ingress_tls_handshake_cpu_ms, reference: s.haproxy_tls_handshake_cpu_ms, referenceName: 'HAProxy nbthread 1', unit: 'ms', target: 'report', met: null },
  ];
}

/** This scenario's own section of table.md: every window's figure, the proxies' cores, the negotiated TLS. */
export function ingressTlsMarkdown(raw: IngressTlsRaw, s: IngressTlsSummary, qps: number, connections: number): string {
  const n = (x: number | null | undefined, d = 0): string => (x === null || x === undefined ? 'n/a' : String(round(x, d)));
  const tput = EDGES.map((k) => {
    const ws = raw.throughput[k];
    return `| ${k} | ${n(median(ws.map((w) => w.rps)))} | ${ws.map((w) => Math.round(w.rps)).join(' / ')} | ${n(median(ws.map((w) => w.proxyCores)), 2)} | ${n(median(ws.map((w) => (w.proxyCores > 0 ? w.rps / w.proxyCores : null))))} | ${ws.reduce((a, w) => a + w.errors, 0)} | ${ws.filter((w) => w.flagged).length} of ${ws.length} |`;
  });
  const lat = LATENCY_TARGETS.map((k) => {
    const ls = raw.latency[k];
    const m = (p: 'p50' | 'p90' | 'p99' | 'max'): string => n(median(ls.map((l) => l[p])), 3);
    return `| ${k} | ${m('p50')} | ${m('p90')} | ${m('p99')} | ${m('max')} | ${n(median(ls.map((l) => l.actualQps)), 1)} | ${ls.reduce((a, l) => a + l.errors, 0)} |`;
  });
  const hs = (['ingress-1', 'haproxy-1'] as const).map((k) => `| ${k} | ${n(median(raw.handshake[k].map((h) => h.ms)), 3)} | ${n(median(raw.handshake[k].map((h) => h.serverCpuMs)), 3)} |`);
  return [
    `## The ingress against HAProxy terminating TLS (bench/ingress-tls.ts; all cores = ${raw.cores})`, '',
    `Negotiated with a client offering h2 and http/1.1: ingress ${raw.negotiated.ingress}; HAProxy ${raw.negotiated.haproxy} (wrk and fortio send HTTP/1.1; a proxy using well under its cores below had the load generator as its ceiling). Throughput ratio 1 core ${n(s.ingress_tls_rps_ratio_1core, 2)}, all cores ${n(s.ingress_tls_rps_ratio_allcores, 2)}; added p99 ratio ${n(s.ingress_tls_added_p99_ratio, 2)}; handshake CPU ratio ${n(s.ingress_tls_handshake_cpu_ratio, 2)}.`, '',
    `| HTTPS keep-alive (wrk, ${connections} conns) | req/s (median) | runs | proxy cores | req per proxy CPU-second | errors | flagged windows |`, '|---|---|---|---|---|---|---|', ...tput, '',
    `| @${qps} req/s, ${connections} conns (fortio) | p50 ms | p90 ms | p99 ms | max ms | actual req/s | errors |`, '|---|---|---|---|---|---|---|', ...lat, '',
    '| new TLS connection + 1 request, one at a time | client ms | server CPU ms |', '|---|---|---|', ...hs,
  ].join('\n');
}

/** The TLS 1.3 suites and the TLS 1.2 ciphers of the ingress's list, apart (HAProxy takes them in two settings). */
export function splitCipherList(list: string): { tls13: string; tls12: string } {
  const all = list.split(':');
  return { tls13: all.filter((c) => c.startsWith('TLS_')).join(':'), tls12: all.filter((c) => !c.startsWith('TLS_')).join(':') };
}

/** One HTTPS connection with a default client: what was negotiated, as "TLSv1.3 TLS_AES_128_GCM_SHA256 http/1.1". */
function negotiate(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: INGRESS_HOST, ca, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const c = s.getCipher();
      const out = `${s.getProtocol() ?? '?'} ${c.standardName || c.name} ALPN ${s.alpnProtocol || 'none'}`;
      s.destroy();
      resolve(out);
    });
    s.once('error', reject);
  });
}

/** Every pid of a proxy: the process, and its worker processes when it has any. */
function pidsOf(p: Started): number[] {
  return [p.pid, ...childPids(p.pid)];
}

function cpuOf(pids: readonly number[]): number {
  return pids.reduce((a, pid) => a + (cpuSeconds(pid) ?? 0), 0);
}

/** Starts the four edge proxies and checks each answers 200 over HTTPS; the caller's group stops them. */
async function startEdges(o: IngressTlsOptions, cores: number, certDir: string): Promise<{ procs: Record<EdgeKey, Started>; ports: Record<EdgeKey, number>; caFile: string; ca: string }> {
  const certs = makeCerts(certDir, INGRESS_HOST);
  const { tls13, tls12 } = splitCipherList(AEAD_CIPHERS);
  const ports = {} as Record<EdgeKey, number>;
  const procs = {} as Record<EdgeKey, Started>;
  const keep = (name: string, text: string): string => {
    const f = join(o.workDir, name);
    writeFileSync(f, text);
    if (o.configDir) writeFileSync(join(o.configDir, name), text);
    return f;
  };
  for (const k of EDGES) {
    ports[k] = await freePort();
    const threads = k.endsWith('-1') ? 1 : cores;
    if (k.startsWith('haproxy')) {
      const cfg = keep(`${k}.cfg`, tlsTerminationConfig({ port: ports[k], upstreamPort: o.upstreamPort, certWithKeyPem: certs.leafWithKeyPem, nbthread: threads, tls13Suites: tls13, tls12Ciphers: tls12 }));
      procs[k] = o.group.start(k, 'haproxy', ['-db', '-f', cfg]);
      await waitForPort(ports[k], 10_000, procs[k]);
    } else {
      const admin = await freePort();
      const config = skeinIngressConfig(`bench-${k}`, admin, { port: ports[k], upstreamPort: o.upstreamPort, certFile: certs.leafCertPem, keyFile: certs.leafKeyPem });
      keep(`${k}.json`, JSON.stringify(config, null, 2));
      const r = await startSkeinProxy(o.group, k, config, admin, o.workDir, [], 30_000, { proxyArgs: ['--workers', String(threads)] });
      if (!r.ok) throw new Error(`ingress: ${r.reason}`);
      procs[k] = r.proc;
      // /ready is answered by the first worker up; the others are counted in (the warm-up gives each time to listen).
      const deadline = Date.now() + 30_000;
      while (threads > 1 && childPids(r.proc.pid).length < threads) {
        if (Date.now() > deadline) throw new Error(`ingress: ${childPids(r.proc.pid).length} of ${threads} workers after 30 s`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  }
  const ca = readFileSync(certs.caPem, 'utf8');
  for (const k of EDGES) {
    const code = await httpsStatus(ports[k], ca);
    if (code !== 200) throw new Error(`${k} answered ${code} over HTTPS instead of 200`);
  }
  return { procs, ports, caFile: certs.caPem, ca };
}

/** GET / over HTTPS with SNI and Host `INGRESS_HOST`, verifying the certificate; resolves with the status code. */
function httpsStatus(port: number, ca: string): Promise<number | string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: INGRESS_HOST, ca, ALPNProtocols: ['http/1.1'] });
    let got = '';
    s.setEncoding('latin1');
    s.setTimeout(5000, () => s.destroy());
    s.on('data', (c: string) => { got += c; });
    s.once('error', (e) => resolve(e.message));
    s.once('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0) || got.slice(0, 60) || 'nothing'));
    s.write(`GET / HTTP/1.1\r\nhost: ${INGRESS_HOST}\r\nconnection: close\r\n\r\n`);
  });
}

/** Runs the whole scenario, interleaved run by run (the order reversed on every other run). */
export async function measureIngressTls(o: IngressTlsOptions): Promise<{ raw: IngressTlsRaw; summary: IngressTlsSummary }> {
  const cores = o.cores ?? availableParallelism();
  const certDir = join(o.workDir, 'ingress-certs');
  mkdirSync(certDir, { recursive: true });
  const { procs, ports, caFile, ca } = await startEdges(o, cores, certDir);
  try {
    const negotiated = { ingress: await negotiate(ports['ingress-1'], ca), haproxy: await negotiate(ports['haproxy-1'], ca) };
    o.log(`ingress-tls: negotiated ingress ${negotiated.ingress}, HAProxy ${negotiated.haproxy}`);
    const throughput = Object.fromEntries(EDGES.map((k) => [k, [] as ThroughputWindow[]])) as Record<EdgeKey, ThroughputWindow[]>;
    const latency = Object.fromEntries(LATENCY_TARGETS.map((k) => [k, [] as LatencyResult[]])) as Record<LatencyTarget, LatencyResult[]>;
    const handshake = { 'ingress-1': [] as HandshakeCost[], 'haproxy-1': [] as HandshakeCost[] };
    const allEdgePids = (): number[] => EDGES.flatMap((k) => pidsOf(procs[k]));
    const httpsArgs = ['-cacert', caFile, '-resolve', '127.0.0.1'];
    for (let run = 1; run <= o.runs; run++) {
      const order = <T>(xs: readonly T[]): readonly T[] => (run % 2 === 1 ? xs : [...xs].reverse());
      for (const k of order(EDGES)) {
        const url = `https://127.0.0.1:${ports[k]}/`;
        await wrk(o.group, url, o.connections, o.seconds.warm).done;
        const pids = pidsOf(procs[k]);
        const tool = wrk(o.group, url, o.connections, o.seconds.tput);
        const win = new CpuWindow([tool.proc.pid, process.pid, ...(o.ownPids ?? []), ...allEdgePids()]);
        const cpu0 = cpuOf(pids);
        const r = parseWrk(await tool.done);
        const c = win.end();
        const w: ThroughputWindow = { rps: r.rps, errors: r.errors, proxyCores: (cpuOf(pids) - cpu0) / c.seconds, otherLoadCores: c.otherCores, flagged: c.otherCores > OTHER_LOAD_FLAG_CORES };
        throughput[k].push(w);
        o.log(`ingress-tls throughput ${k} run ${run}: ${Math.round(w.rps)} req/s, ${w.errors} errors, proxy ${w.proxyCores.toFixed(2)} cores, other load ${w.otherLoadCores.toFixed(2)}${w.flagged ? ' [FLAGGED]' : ''}`);
      }
      for (const k of order(LATENCY_TARGETS)) {
        const url = k === 'direct' ? `http://127.0.0.1:${o.upstreamPort}/` : `https://${INGRESS_HOST}:${ports[k]}/`;
        const extra = k === 'direct' ? [] : httpsArgs;
        const json = join(o.workDir, `fortio-ingress-tls-${k}-${run}.json`);
        await fortio(o.group, o.fortioPath, url, o.qps, o.connections, o.seconds.warm, json, extra).done;
        await fortio(o.group, o.fortioPath, url, o.qps, o.connections, o.seconds.lat, json, extra).done;
        const l = parseFortioJson(json);
        latency[k].push(l);
        o.log(`ingress-tls latency ${k} run ${run}: p50 ${l.p50.toFixed(3)} p99 ${l.p99.toFixed(3)} ms, ${l.errors} errors`);
      }
      for (const k of order(['ingress-1', 'haproxy-1'] as const)) {
        const h = await connectionCost({
          connections: o.handshakes,
          connect: () => tls.connect({ host: '127.0.0.1', port: ports[k], servername: INGRESS_HOST, ca, ALPNProtocols: ['http/1.1'] }),
          server: procs[k],
          host: INGRESS_HOST,
          bodyBytes: BODY_BYTES,
        });
        handshake[k].push(h);
        o.log(`ingress-tls handshake ${k} run ${run}: ${h.ms.toFixed(3)} ms per connection, server CPU ${h.serverCpuMs.toFixed(3)} ms`);
      }
    }
    const raw: IngressTlsRaw = { cores, throughput, latency, handshake, negotiated };
    return { raw, summary: summarizeIngressTls(raw) };
  } finally {
    for (const k of EDGES) await o.group.stop(procs[k]);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const i = argv.indexOf('--runs');
  const runs = i >= 0 ? Number(argv[i + 1]) : quick ? 1 : 3;
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--runs must be an integer 1..20');
  const fortioPath = argv.includes('--no-install') ? join(binDir(), 'fortio') : installTools().fortio;
  const work = mkdtempSync(join(tmpdir(), 'skein-bench-ingress-'));
  const group = new ProcessGroup();
  const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };
  try {
    const up = { h1: await freePort(), h2: await freePort() };
    writeFileSync(join(work, 'upstream.cfg'), upstreamConfig(up.h1, up.h2, BODY_BYTES, 1));
    const upstream = group.start('upstream', 'haproxy', ['-db', '-f', join(work, 'upstream.cfg')]);
    await waitForPort(up.h1, 10_000, upstream);
    const qps = 1000;
    const connections = 16;
    const { raw, summary } = await measureIngressTls({
      group, fortioPath, upstreamPort: up.h1, workDir: work, runs, qps, connections, log, ownPids: [upstream.pid],
      seconds: quick ? { warm: 2, tput: 5, lat: 10 } : { warm: 5, tput: 10, lat: 30 }, handshakes: quick ? 300 : 1000,
    });
    process.stdout.write(`${ingressTlsMarkdown(raw, summary, qps, connections)}\n${JSON.stringify(summary)}\n`);
  } finally {
    group.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  try {
    await main();
  } catch (e) {
    process.stderr.write(`bench: failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
