// The cost of mesh mTLS between two Skein sidecars (issue 12), as ratios in one run (`node bench/mtls-pair.ts [--quick]`):
// the pair in plain text and the pair with mTLS (strict inbound, TLS 1.3, certificates from the control plane's own CA via
// `skein proxy --workload-identity`) side by side at 1000 req/s over 16 connections (latency added over direct, CPU of each
// proxy), and the handshake: new connections to the inbound sidecar, each with one request, mTLS vs plain text.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { connectionCost } from './lib/connection-cost.ts';
import { upstreamConfig } from './lib/haproxy-config.ts';
import { binDir, installTools } from './lib/install-tools.ts';
import { fortio, parseFortioJson, type LatencyResult } from './lib/load-tools.ts';
import { BENCH_CLIENT_ID, BENCH_SERVER_ID, benchMeshCa, meshPairConfigs, writeWorkloadIdentity } from './lib/mesh-identity.ts';
import { cpuSeconds } from './lib/proc-stats.ts';
import { freePort, ProcessGroup, waitForPort, type Started } from './lib/process-group.ts';
import { skeinProxyConfig } from './lib/skein-config.ts';
import { httpStatus, startSkeinProxy } from './lib/skein-proxy.ts';
import { median, round } from './lib/stats.ts';

const QPS = 1000;
const CONNS = 16;
const BODY_BYTES = 1024;

function log(msg: string): void {
  process.stderr.write(`bench mtls: ${msg}\n`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const D = quick ? { warm: 2, lat: 10, runs: 1, handshakes: 300 } : { warm: 5, lat: 30, runs: 3, handshakes: 1000 };
  const tools = argv.includes('--no-install') ? { fortio: join(binDir(), 'fortio') } : installTools();
  const work = mkdtempSync(join(tmpdir(), 'skein-bench-mtls-'));
  const group = new ProcessGroup();
  try {
    const up = { h1: await freePort(), h2: await freePort() };
    const upstream = group.start('upstream', 'haproxy', ['-db', '-f', (() => {
      const f = join(work, 'upstream.cfg');
      writeFileSync(f, upstreamConfig(up.h1, up.h2, BODY_BYTES, 1));
      return f;
    })()]);
    await waitForPort(up.h1, 10_000, upstream);

    const ca = benchMeshCa();
    writeWorkloadIdentity(ca, BENCH_SERVER_ID, join(work, 'server-identity'));
    writeWorkloadIdentity(ca, BENCH_CLIENT_ID, join(work, 'client-identity'));
    const client = writeWorkloadIdentity(ca, BENCH_CLIENT_ID, join(work, 'bench-client'));

    const ports = { plainOut: await freePort(), plainIn: await freePort(), mtlsOut: await freePort(), mtlsIn: await freePort() };
    const admin = { plainOut: await freePort(), plainIn: await freePort(), mtlsOut: await freePort(), mtlsIn: await freePort() };
    const inbound = (name: string, port: number, adminPort: number) => skeinProxyConfig(name, adminPort, [{ name: 'in', port, direction: 'inbound', upstreamPort: up.h1, upstreamProtocol: 'http1' }]);
    const outbound = (name: string, port: number, adminPort: number, to: number) => skeinProxyConfig(name, adminPort, [{ name: 'out', port, direction: 'outbound', upstreamPort: to, upstreamProtocol: 'http1' }]);
    const mtlsIn = inbound('mtls-in', ports.mtlsIn, admin.mtlsIn);
    const mtlsOut = outbound('mtls-out', ports.mtlsOut, admin.mtlsOut, ports.mtlsIn);
    meshPairConfigs(mtlsIn, mtlsOut, BENCH_SERVER_ID);
    const start = async (name: string, config: Record<string, unknown>, adminPort: number, identity?: string): Promise<Started> => {
      const r = await startSkeinProxy(group, name, config, adminPort, work, [], 30_000, identity ? { proxyArgs: ['--workload-identity', identity] } : {});
      if (!r.ok) throw new Error(r.reason);
      return r.proc;
    };
    const procs = {
      plainIn: await start('plain-in', inbound('plain-in', ports.plainIn, admin.plainIn), admin.plainIn),
      plainOut: await start('plain-out', outbound('plain-out', ports.plainOut, admin.plainOut, ports.plainIn), admin.plainOut),
      mtlsIn: await start('mtls-in', mtlsIn, admin.mtlsIn, join(work, 'server-identity')),
      mtlsOut: await start('mtls-out', mtlsOut, admin.mtlsOut, join(work, 'client-identity')),
    };
    for (const [k, p] of [['plain', ports.plainOut], ['mtls', ports.mtlsOut]] as const) {
      const code = await httpStatus(`http://127.0.0.1:${p}/`);
      if (code !== 200) throw new Error(`the ${k} pair answered ${code ?? 'nothing'}`);
    }
    // The mTLS pair really is mTLS: its inbound refuses plain text.
    if ((await httpStatus(`http://127.0.0.1:${ports.mtlsIn}/`)) === 200) throw new Error('the mTLS inbound sidecar answered plain text');

    // --- steady state: fixed rate through each pair (and direct), alternating the order run by run.
    const targets = [
      { key: 'direct', url: `http://127.0.0.1:${up.h1}/`, proxies: [] as Started[] },
      { key: 'plain', url: `http://127.0.0.1:${ports.plainOut}/`, proxies: [procs.plainOut, procs.plainIn] },
      { key: 'mtls', url: `http://127.0.0.1:${ports.mtlsOut}/`, proxies: [procs.mtlsOut, procs.mtlsIn] },
    ];
    const results = new Map<string, { lat: LatencyResult; cores: number[] }[]>();
    for (let r = 0; r < D.runs; r++) {
      for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
        await fortio(group, tools.fortio, t.url, QPS, CONNS, D.warm, join(work, 'warm.json')).done;
        const cpu0 = t.proxies.map((p) => cpuSeconds(p.pid) ?? 0);
        const t0 = performance.now();
        const json = join(work, `${t.key}-${r}.json`);
        await fortio(group, tools.fortio, t.url, QPS, CONNS, D.lat, json).done;
        const secs = (performance.now() - t0) / 1000;
        const cores = t.proxies.map((p, i) => ((cpuSeconds(p.pid) ?? 0) - cpu0[i]!) / secs);
        const lat = parseFortioJson(json);
        if (lat.errors > 0) throw new Error(`${t.key}: ${lat.errors} errors of ${lat.count}`);
        results.set(t.key, [...(results.get(t.key) ?? []), { lat, cores }]);
        log(`${t.key} run ${r + 1}: p50 ${lat.p50.toFixed(3)} p99 ${lat.p99.toFixed(3)} ms, proxies ${cores.map((c) => c.toFixed(3)).join(' / ')} cores`);
      }
    }
    const med = (key: string, f: (x: { lat: LatencyResult; cores: number[] }) => number): number | null => median((results.get(key) ?? []).map(f));
    const added = (key: string, p: 'p50' | 'p99'): number | null => {
      const a = med(key, (x) => x.lat[p]);
      const d = med('direct', (x) => x.lat[p]);
      return a === null || d === null ? null : a - d;
    };

    // --- handshake: new connections to each inbound sidecar, one request each.
    const plainConn = await connectionCost({ connections: D.handshakes, connect: () => net.connect({ host: '127.0.0.1', port: ports.plainIn }), server: procs.plainIn, bodyBytes: BODY_BYTES });
    const mtlsConn = await connectionCost({
      connections: D.handshakes,
      connect: () => tls.connect({ host: '127.0.0.1', port: ports.mtlsIn, key: client.keyPem, cert: client.certPem, ca: client.bundlePem, ALPNProtocols: ['http/1.1'], checkServerIdentity: () => undefined }),
      server: procs.mtlsIn,
      bodyBytes: BODY_BYTES,
    });

    const summary = {
      runs: D.runs,
      seconds_per_window: D.lat,
      pair_plain_added_p50_ms: round(added('plain', 'p50'), 3),
      pair_plain_added_p99_ms: round(added('plain', 'p99'), 3),
      pair_mtls_added_p50_ms: round(added('mtls', 'p50'), 3),
      pair_mtls_added_p99_ms: round(added('mtls', 'p99'), 3),
      pair_plain_vcpu_per_krps: [0, 1].map((i) => round(med('plain', (x) => x.cores[i]!), 3)),
      pair_mtls_vcpu_per_krps: [0, 1].map((i) => round(med('mtls', (x) => x.cores[i]!), 3)),
      connection_plain_ms: round(plainConn.ms, 3),
      connection_mtls_ms: round(mtlsConn.ms, 3),
      connection_plain_server_cpu_ms: round(plainConn.serverCpuMs, 3),
      connection_mtls_server_cpu_ms: round(mtlsConn.serverCpuMs, 3),
      handshake_added_ms: round(mtlsConn.ms - plainConn.ms, 3),
      handshake_server_cpu_ms: round(mtlsConn.serverCpuMs - plainConn.serverCpuMs, 3),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    group.killAll();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  log(`failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
