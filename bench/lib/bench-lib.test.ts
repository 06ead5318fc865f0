// Unit tests of the benchmark helpers: output parsers, statistics, table formatting, and that the configs we generate are valid.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import { pairInboundConfig, pairOutboundConfig, singleProxyConfig, upstreamConfig } from './haproxy-config.ts';
import { parseFortioBehind, parseFortioJson, parseGhzJson, parseH2load, parseWrk } from './load-tools.ts';
import { cpuSeconds, CpuWindow, rssMb } from './proc-stats.ts';
import { markdownTable } from './report-table.ts';
import { POLICY_DEFAULTS, skeinProxyConfig, withRouteAndCluster } from './skein-config.ts';
import { median, medianOfRatios, round } from './stats.ts';

const dir = mkdtempSync(join(tmpdir(), 'skein-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('load tool parsers', () => {
  it('reads wrk req/s and counts socket errors and non-2xx answers', () => {
    const out = `Running 10s test @ http://127.0.0.1:1/\n  1 threads and 16 connections\n  Socket errors: connect 0, read 2, write 1, timeout 3\n  Non-2xx or 3xx responses: 4\nRequests/sec:  21471.72\nTransfer/sec:      3.1MB\n`;
    expect(parseWrk(out)).toEqual({ rps: 21471.72, errors: 10 });
    expect(() => parseWrk('garbage')).toThrow(/cannot parse wrk/);
  });

  it('reads h2load req/s and failures', () => {
    const out = 'finished in 10.00s, 43310.00 req/s, 47.5MB/s\nrequests: 433100 total, 433100 started, 433100 done, 433098 succeeded, 2 failed, 1 errored, 0 timeout\n';
    expect(parseH2load(out)).toEqual({ rps: 43310, errors: 3 });
  });

  it('says how far fortio fell behind its schedule', () => {
    expect(parseFortioBehind('Aggregated Sleep Time ...\nWARNING 18.29% of sleep were falling behind\n')).toBe('18.29% of sends late');
    expect(parseFortioBehind('Sleep times : count 9984 avg 0.0155 +/- 0.001 min -0.01053 max 0.016 sum 154.7\n')).toMatch(/min sleep -10.53 ms/);
    expect(parseFortioBehind('Sleep times : count 9984 avg 0.0155 +/- 0.001 min 0.0121 max 0.016 sum 154.7\n')).toBe('never late');
  });

  it('converts fortio JSON (seconds) to milliseconds and counts non-200 answers as errors', () => {
    const f = join(dir, 'fortio.json');
    writeFileSync(f, JSON.stringify({
      ActualQPS: 998.5, RetCodes: { 200: 9990, 503: 10 },
      DurationHistogram: { Count: 10000, Max: 0.0229, Percentiles: [{ Percentile: 50, Value: 0.0005 }, { Percentile: 90, Value: 0.0009 }, { Percentile: 99, Value: 0.002 }] },
    }));
    const r = parseFortioJson(f);
    expect(r.p50).toBeCloseTo(0.5);
    expect(r.p99).toBeCloseTo(2);
    expect(r.max).toBeCloseTo(22.9);
    expect(r.errors).toBe(10);
  });

  it('converts ghz JSON (nanoseconds) to milliseconds and lists error kinds', () => {
    const f = join(dir, 'ghz.json');
    writeFileSync(f, JSON.stringify({
      count: 100, rps: 999, slowest: 81_450_612, statusCodeDistribution: { OK: 98, Unavailable: 2 }, errorDistribution: { 'rpc error: code = Unavailable': 2 },
      latencyDistribution: [{ percentage: 50, latency: 508_689 }, { percentage: 90, latency: 982_414 }, { percentage: 99, latency: 6_982_825 }],
    }));
    const r = parseGhzJson(f);
    expect(r.p99).toBeCloseTo(6.982825);
    expect(r.max).toBeCloseTo(81.450612);
    expect(r.errors).toBe(2);
    expect(r.errorKinds).toBe('2 x rpc error: code = Unavailable');
  });
});

describe('statistics and table', () => {
  it('takes the median of the values that exist', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, null, 2, 3])).toBe(2.5);
    expect(median([null, undefined])).toBeNull();
    expect(round(1.23456, 2)).toBe(1.23);
    expect(round(null)).toBeNull();
  });

  it("takes the median of the rounds' own ratios, not the ratio of the medians", () => {
    // Round 2 fell on both variants alike: its ratio is like the others', while the ratio of the medians says 1.2.
    expect(medianOfRatios([110, 22, 108], [100, 20, 90])).toBe(1.1);
    expect(median([110, 22, 108])! / median([100, 20, 90])!).toBeCloseTo(1.2);
  });

  it('prints ratio, target and verdict, n/a for missing figures', () => {
    const t = markdownTable([
      { figure: 'rps', skein: 9000, reference: 15000, referenceName: 'HAProxy', unit: 'req/s', target: '>= 0.6 x HAProxy', met: true },
      { figure: 'p99', skein: 2, reference: -0.5, referenceName: 'HAProxy', unit: 'ms', target: '<= 1 ms', met: false },
      { figure: 'certs', skein: null, reference: null, referenceName: '', unit: 'certs/s', target: '>= 500/s', met: null, note: 'not built yet' },
    ]);
    expect(t).toContain('| rps | 9000 req/s | 15000 req/s (HAProxy) | 0.6 | >= 0.6 x HAProxy | yes |');
    expect(t).toContain('| p99 | 2 ms | -0.5 ms (HAProxy) | n/a (ref <= 0) | <= 1 ms | NO |');
    expect(t).toContain('| certs (not built yet) | n/a | - | n/a | >= 500/s | n/a |');
  });
});

describe('generated configs', () => {
  it('Skein bench configs pass the proxy config parser', () => {
    const c = skeinProxyConfig('bench', 15999, [
      { name: 'out-h1', port: 20001, direction: 'outbound', upstreamPort: 20002, upstreamProtocol: 'http1' },
      { name: 'out-grpc', port: 20003, direction: 'outbound', upstreamPort: 20004, upstreamProtocol: 'http2' },
    ]);
    const r = parseProxyConfig(c);
    expect(r.ok ? null : r.error).toBeNull();
    if (r.ok) {
      expect(r.value.admin.port).toBe(15999);
      expect(r.value.clusters.map((x) => x.protocol)).toEqual(['http1', 'http2']);
    }
  });

  it('the "every policy at its defaults" config is valid and configures every policy but mirroring', () => {
    const c = withRouteAndCluster(skeinProxyConfig('bench', 15999, [{ name: 'single', port: 20001, direction: 'outbound', upstreamPort: 20002, upstreamProtocol: 'http1' }]), POLICY_DEFAULTS);
    const r = parseProxyConfig(c);
    expect(r.ok ? null : r.error).toBeNull();
    if (!r.ok) return;
    const route = r.value.listeners[0]!.virtualHosts[0]!.routes[0]!;
    expect(route.timeoutMs).toBeGreaterThan(0);
    expect(route.streamIdleTimeoutMs).toBeGreaterThan(0);
    expect(route.retries).toMatchObject({ attempts: 2 });
    expect(route.rateLimit).not.toBeNull();
    expect(route.fault).toMatchObject({ header: 'x-bench-fault' });
    expect(route.mirrors).toEqual([]);
    const cluster = r.value.clusters[0]!;
    expect(cluster.circuitBreaker).toMatchObject({ maxRequests: 1024 });
    expect(cluster.outlierDetection).toMatchObject({ consecutive5xxErrors: 5 });
  });

  const haproxy = spawnSync('sh', ['-c', 'command -v haproxy'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!haproxy)('HAProxy accepts every reference config (haproxy -c)', () => {
    const pem = join(dir, 'dummy.pem');
    spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=t', '-days', '1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')]);
    spawnSync('sh', ['-c', `cat ${join(dir, 'c.pem')} ${join(dir, 'k.pem')} > ${pem}`]);
    const ports = { outH1: 20001, outGrpc: 20002, inTlsH1: 20003, inTlsGrpc: 20004, appH1: 20005, appGrpc: 20006 };
    const configs = [upstreamConfig(20007, 20008, 1024, 1), singleProxyConfig(20009, 20010, 20007, 20008),
      pairOutboundConfig(ports, pem, join(dir, 'c.pem')), pairInboundConfig(ports, pem, join(dir, 'c.pem'))];
    for (const [i, text] of configs.entries()) {
      const f = join(dir, `h${i}.cfg`);
      writeFileSync(f, text);
      const r = spawnSync('haproxy', ['-c', '-f', f], { encoding: 'utf8' });
      expect(`${r.status} ${r.stderr}`).toMatch(/^0 /);
    }
  });
});

describe('/proc readers', () => {
  it('read this process CPU time and RSS, and null for a pid that does not exist', () => {
    const w = new CpuWindow([process.pid]);
    let x = 0;
    for (let i = 0; i < 3e7; i++) x += i % 7;
    const r = w.end();
    expect(x).toBeGreaterThan(0);
    expect(r.perPid[0]).toBeGreaterThan(0);
    expect(rssMb(process.pid)).toBeGreaterThan(10);
    expect(cpuSeconds(2 ** 22 + 12345)).toBeNull();
  });
});

describe('CPU profile summary', () => {
  it('attributes sample intervals to self time per function and category', async () => {
    const { selfTimes, category } = await import('../profile.ts');
    const profile = {
      startTime: 0, endTime: 40,
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 3] },
        { id: 2, callFrame: { functionName: 'writev', url: '', lineNumber: -1 } },
        // Named from the checkout the profile ran in (any worktree, not only /work/main).
        { id: 3, callFrame: { functionName: 'forwardHttp', url: `${pathToFileURL(resolve(import.meta.dirname, '../..')).href}/proxy/http/http-forwarder.ts`, lineNumber: 136 } },
      ],
      samples: [2, 3, 2, 3],
      timeDeltas: [0, 10, 10, 20],
    };
    const s = selfTimes(profile);
    expect(s.total).toBeCloseTo(0.04);
    // Each sample owns the interval up to the next one: writev 10+20 us, forwardHttp 10 us (the last sample owns nothing).
    expect(s.byFunction.map((c) => [c.fn, c.pct])).toEqual([['writev', 75], ['forwardHttp', 25]]);
    expect(s.byFunction[1]!.where).toBe('proxy/http/http-forwarder.ts:137');
    expect(s.byCategory[0]).toMatchObject({ where: 'socket writes (syscalls, incl. loopback TCP)', pct: 75 });
    expect(category('writev', '(native/VM)')).toBe('socket writes (syscalls, incl. loopback TCP)');
    expect(category('forwardHttp', 'proxy/http/http-forwarder.ts')).toBe('Skein proxy code');
  });
});

describe('starting a Skein proxy for the benchmark', () => {
  it('reports why, instead of hanging, when the proxy exits at start-up', async () => {
    const { ProcessGroup } = await import('./process-group.ts');
    const { startSkeinProxy } = await import('./skein-proxy.ts');
    const group = new ProcessGroup();
    try {
      // An invalid config: the CLI rejects it and exits 2 before any listener opens.
      const r = await startSkeinProxy(group, 'skein-bad', { listeners: [{ name: 'x' }] }, 1, dir, [], 15_000);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/skein-bad exited \(2\).*invalid config/);
    } finally {
      group.dispose();
    }
  });
});
