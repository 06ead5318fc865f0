// Tests of the ingress-vs-HAProxy TLS scenario: the reduction to report keys, its table rows, the configs both sides get,
// and (when haproxy, wrk and fortio are installed) one tiny bounded run of the whole scenario end to end.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../api/config/parse-proxy-config.ts';
import { AEAD_CIPHERS } from '../proxy/listener/tls-contexts.ts';
import {
  ingressTlsMarkdown, ingressTlsRows, measureIngressTls, nullIngressTlsSummary, splitCipherList, summarizeIngressTls,
  type IngressTlsRaw, type ThroughputWindow,
} from './ingress-tls.ts';
import { tlsTerminationConfig, upstreamConfig } from './lib/haproxy-config.ts';
import { binDir } from './lib/install-tools.ts';
import type { LatencyResult } from './lib/load-tools.ts';
import { childPids } from './lib/proc-stats.ts';
import { freePort, ProcessGroup, waitForPort } from './lib/process-group.ts';
import { skeinIngressConfig } from './lib/skein-config.ts';
import { makeCerts } from './lib/tls-certs.ts';

const dir = mkdtempSync(join(tmpdir(), 'skein-ingress-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tput = (rps: number, proxyCores: number): ThroughputWindow => ({ rps, errors: 0, proxyCores, otherLoadCores: 0, flagged: false });
const lat = (p50: number, p99: number): LatencyResult => ({ p50, p90: p50, p99, max: p99, actualQps: 1000, count: 1000, errors: 0 });

function raw(over: Partial<IngressTlsRaw> = {}): IngressTlsRaw {
  return {
    cores: 2,
    throughput: {
      'ingress-1': [tput(10_000, 1), tput(12_000, 1), tput(30_000, 1)],
      'haproxy-1': [tput(20_000, 0.5), tput(25_000, 0.5), tput(5_000, 0.5)],
      'ingress-all': [tput(18_000, 2)],
      'haproxy-all': [tput(36_000, 1.5)],
    },
    latency: { direct: [lat(0.1, 0.5), lat(0.2, 0.7)], 'ingress-1': [lat(0.4, 1.5), lat(0.6, 2.1)], 'haproxy-1': [lat(0.3, 0.9), lat(0.3, 1.1)] },
    handshake: { 'ingress-1': [{ ms: 3, serverCpuMs: 0.9 }], 'haproxy-1': [{ ms: 2, serverCpuMs: 0.45 }] },
    negotiated: { ingress: 'TLSv1.3 TLS_AES_128_GCM_SHA256 ALPN h2', haproxy: 'TLSv1.3 TLS_AES_128_GCM_SHA256 ALPN h2' },
    ...over,
  };
}

describe('summarizeIngressTls', () => {
  it('reduces every run to medians, latency added over direct, and each Skein figure over HAProxy', () => {
    const s = summarizeIngressTls(raw());
    expect(s).toMatchObject({
      ingress_tls_cores: 2,
      ingress_tls_rps_1core: 12_000, haproxy_tls_rps_1core: 20_000, ingress_tls_rps_ratio_1core: 0.6,
      ingress_tls_rps_allcores: 18_000, haproxy_tls_rps_allcores: 36_000, ingress_tls_rps_ratio_allcores: 0.5,
      // Per window, then the median: 12 000 req per CPU-second for the ingress, 40 000 for HAProxy.
      ingress_tls_req_per_cpu_s_1core: 12_000, haproxy_tls_req_per_cpu_s_1core: 40_000,
      ingress_tls_req_per_cpu_s_allcores: 9000, haproxy_tls_req_per_cpu_s_allcores: 24_000,
      ingress_tls_handshake_cpu_ms: 0.9, haproxy_tls_handshake_cpu_ms: 0.45, ingress_tls_handshake_cpu_ratio: 2,
    });
    // p50: 0.5 - 0.15 and 0.3 - 0.15; p99: 1.8 - 0.6 and 1.0 - 0.6.
    expect(s.ingress_tls_added_p50_ms).toBeCloseTo(0.35);
    expect(s.haproxy_tls_added_p50_ms).toBeCloseTo(0.15);
    expect(s.ingress_tls_added_p99_ms).toBeCloseTo(1.2);
    expect(s.haproxy_tls_added_p99_ms).toBeCloseTo(0.4);
    expect(s.ingress_tls_added_p99_ratio).toBeCloseTo(3);
  });

  it('gives no ratio against an added latency lost in the noise, nor a per-CPU figure for a window without CPU', () => {
    const s = summarizeIngressTls(raw({
      latency: { direct: [lat(0.1, 1)], 'ingress-1': [lat(0.2, 1.2)], 'haproxy-1': [lat(0.2, 0.9)] },
      throughput: { 'ingress-1': [tput(1000, 0)], 'haproxy-1': [tput(1000, 0.1)], 'ingress-all': [], 'haproxy-all': [] },
    }));
    expect(s.haproxy_tls_added_p99_ms).toBeCloseTo(-0.1);
    expect(s.ingress_tls_added_p99_ratio).toBeNull();
    expect(s.ingress_tls_req_per_cpu_s_1core).toBeNull();
    expect(s.haproxy_tls_req_per_cpu_s_1core).toBe(10_000);
    expect(s.ingress_tls_rps_allcores).toBeNull();
    expect(s.ingress_tls_rps_ratio_allcores).toBeNull();
  });

  it('has every figure null when nothing was measured, with the core count kept', () => {
    const s = nullIngressTlsSummary(4);
    expect(s.ingress_tls_cores).toBe(4);
    expect(Object.entries(s).filter(([k, v]) => k !== 'ingress_tls_cores' && v !== null)).toEqual([]);
  });
});

describe('the scenario report', () => {
  it('puts the figures next to HAProxy in the headline rows and its own tables', () => {
    const r = raw();
    const s = summarizeIngressTls(r);
    const rows = ingressTlsRows(s, 1000, 16);
    expect(rows.map((x) => [x.skein, x.reference])).toEqual([
      [12_000, 20_000], [18_000, 36_000], [12_000, 40_000], [s.ingress_tls_added_p50_ms, s.haproxy_tls_added_p50_ms],
      [s.ingress_tls_added_p99_ms, s.haproxy_tls_added_p99_ms], [0.9, 0.45],
    ]);
    expect(rows[1]!.figure).toContain('all 2 cores');
    const md = ingressTlsMarkdown(r, s, 1000, 16);
    expect(md).toContain('| ingress-1 | 12000 | 10000 / 12000 / 30000 | 1 | 12000 | 0 | 0 of 3 |');
    expect(md).toContain('| haproxy-1 | 0.3 | 0.3 | 1 | 1 | 1000 | 0 |');
    expect(md).toContain('Throughput ratio 1 core 0.6, all cores 0.5');
  });
});

describe('the two sides get the same TLS and the same route', () => {
  it('splits the ingress cipher list into TLS 1.3 suites and TLS 1.2 ciphers, keeping the order', () => {
    expect(splitCipherList('TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384')).toEqual({
      tls13: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384', tls12: 'ECDHE-ECDSA-AES128-GCM-SHA256',
    });
    const { tls13, tls12 } = splitCipherList(AEAD_CIPHERS);
    expect(tls13.split(':')).toHaveLength(3);
    expect(tls12).not.toContain('TLS_');
  });

  it('the ingress config passes the proxy config parser as an ingress terminating TLS', () => {
    const r = parseProxyConfig(skeinIngressConfig('bench-ingress', 15999, { port: 20443, upstreamPort: 20080, certFile: '/c.pem', keyFile: '/k.pem' }));
    expect(r.ok ? null : r.error).toBeNull();
    if (!r.ok) return;
    expect(r.value.mode).toBe('ingress');
    const l = r.value.listeners[0]!;
    expect(l.direction).toBe('ingress');
    expect(l.tls).toMatchObject({ certFile: '/c.pem', keyFile: '/k.pem', alpn: ['h2', 'http/1.1'] });
    expect(r.value.clusters[0]!.endpoints).toEqual([expect.objectContaining({ address: '127.0.0.1', port: 20080 })]);
  });

  it('the HAProxy config names the same suites, TLS 1.2 at least, the certificate, and the upstream', () => {
    const text = tlsTerminationConfig({ port: 20443, upstreamPort: 20080, certWithKeyPem: '/leaf.pem', nbthread: 2, tls13Suites: 'TLS_A:TLS_B', tls12Ciphers: 'C-D' });
    expect(text).toMatch(/^global\n {2}nbthread 2\n/);
    // Global settings must come before `defaults`, or HAProxy refuses them.
    expect(text.indexOf('ssl-default-bind-ciphersuites TLS_A:TLS_B')).toBeLessThan(text.indexOf('defaults'));
    expect(text).toContain('ssl-default-bind-ciphers C-D\n');
    expect(text).toContain('ssl-min-ver TLSv1.2');
    expect(text).toContain('bind 127.0.0.1:20443 ssl crt /leaf.pem alpn h2,http/1.1');
    expect(text).toContain('server up 127.0.0.1:20080\n');
  });

  const haproxy = spawnSync('sh', ['-c', 'command -v haproxy'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!haproxy)('HAProxy accepts the TLS termination config with a real certificate (haproxy -c)', () => {
    const certs = makeCerts(dir, 'ingress.bench');
    const { tls13, tls12 } = splitCipherList(AEAD_CIPHERS);
    const f = join(dir, 'edge.cfg');
    writeFileSync(f, tlsTerminationConfig({ port: 20443, upstreamPort: 20080, certWithKeyPem: certs.leafWithKeyPem, nbthread: 2, tls13Suites: tls13, tls12Ciphers: tls12 }));
    const r = spawnSync('haproxy', ['-c', '-f', f], { encoding: 'utf8' });
    expect(`${r.status} ${r.stderr}`).toMatch(/^0 /);
    expect(readFileSync(certs.leafCertPem, 'utf8')).toContain('BEGIN CERTIFICATE');
    const san = spawnSync('openssl', ['x509', '-in', certs.leafCertPem, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
    expect(san.stdout).toContain('DNS:ingress.bench');
  });
});

describe('/proc: worker processes', () => {
  it('finds the children of a process, and none for a process without any', async () => {
    const group = new ProcessGroup();
    try {
      const child = group.start('sleeper', 'sleep', ['30']);
      expect(childPids(process.pid)).toContain(child.pid);
      expect(childPids(child.pid)).toEqual([]);
    } finally {
      group.dispose();
    }
  });
});

const tool = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const fortioPath = join(binDir(), 'fortio');
describe.skipIf(!tool('haproxy') || !tool('wrk') || !existsSync(fortioPath))('the scenario end to end (tiny and bounded)', () => {
  it('measures every figure through both edges, with no error and the same TLS negotiated', async () => {
    const group = new ProcessGroup();
    const work = mkdtempSync(join(tmpdir(), 'skein-ingress-bench-run-'));
    try {
      const up = { h1: await freePort(), h2: await freePort() };
      writeFileSync(join(work, 'upstream.cfg'), upstreamConfig(up.h1, up.h2, 1024, 1));
      const upstream = group.start('upstream', 'haproxy', ['-db', '-f', join(work, 'upstream.cfg')]);
      await waitForPort(up.h1, 10_000, upstream);
      const { raw: r, summary } = await measureIngressTls({
        group, fortioPath, upstreamPort: up.h1, workDir: work, runs: 1, qps: 50, connections: 2, handshakes: 20, cores: 2,
        seconds: { warm: 1, tput: 1, lat: 1 }, ownPids: [upstream.pid], log: () => {},
      });
      expect(r.negotiated.ingress).toMatch(/^TLSv1\.3 /);
      expect(r.negotiated.ingress).toBe(r.negotiated.haproxy);
      for (const ws of Object.values(r.throughput)) expect(ws.map((w) => [w.errors, w.rps > 0])).toEqual([[0, true]]);
      for (const ls of Object.values(r.latency)) expect(ls.map((l) => [l.errors, l.count > 0])).toEqual([[0, true]]);
      // The all-cores ingress really ran its two workers: they used CPU in its window.
      expect(r.throughput['ingress-all'][0]!.proxyCores).toBeGreaterThan(0);
      expect(r.handshake['ingress-1'].map((h) => h.ms > 0)).toEqual([true]);
      expect(r.handshake['haproxy-1'].map((h) => h.ms > 0)).toEqual([true]);
      // Ratios may be null in so short a run (a CPU reading of 0 ticks, an added p99 below zero); the figures may not.
      const figures = ['ingress_tls_rps_1core', 'haproxy_tls_rps_1core', 'ingress_tls_rps_allcores', 'haproxy_tls_rps_allcores',
        'ingress_tls_added_p50_ms', 'haproxy_tls_added_p50_ms', 'ingress_tls_added_p99_ms', 'haproxy_tls_added_p99_ms'] as const;
      expect(figures.filter((k) => summary[k] === null)).toEqual([]);
    } finally {
      group.dispose();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);
});
