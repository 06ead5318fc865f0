// Benchmark hook: the injector webhook's latency at 50 concurrent AdmissionReviews over HTTPS on loopback (target p99 <= 10 ms).
//
// The webhook runs as its own process (the real `skein injector --no-kube`), as it would next to the API server. Following
// BENCHMARKS.md, latency is measured at a fixed rate, not at saturation: reviews are scheduled at `ratePerSecond` over
// `concurrency` keep-alive TLS connections (at most that many in flight), and each latency counts from the review's
// scheduled time, so a stalled server cannot hide its queue (coordinated omission). A closed loop with `concurrency`
// reviews always in flight then gives the saturation throughput, and its latencies, which are queueing by construction.
// Run directly: `node bench/webhook.ts`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { podAdmissionReview, samplePod } from '../injector/admission-review-fixture.ts';

export interface WebhookBenchOptions {
  readonly concurrency?: number;
  /** Fixed-rate phase: reviews per second and how many in all. */
  readonly ratePerSecond?: number;
  readonly requests?: number;
  readonly warmup?: number;
  /** Closed-loop (saturation) phase: how many reviews; 0 skips it. */
  readonly saturationRequests?: number;
}

export interface WebhookBenchResult {
  /** Fixed rate, `concurrency` connections: latency from each review's scheduled send time. */
  readonly p99Ms: number;
  readonly p50Ms: number;
  readonly n: number;
  readonly maxMs: number;
  readonly ratePerSecond: number;
  readonly concurrency: number;
  /** The injector process's CPU per review during the fixed-rate phase. */
  readonly serverCpuUsPerReview: number | null;
  /** Closed loop, `concurrency` always in flight: throughput, and latency that is mostly queueing. */
  readonly saturation: { readonly reviewsPerSecond: number; readonly p50Ms: number; readonly p99Ms: number } | null;
  /** Upper bound of the histogram bucket holding the injector's own p99 (body received -> answer ready), whole run. */
  readonly handlerP99MsAtMost: number | null;
  /** 1-minute load average before and after: on a 2-core machine anything above ~2 means others competed for the CPU. */
  readonly loadAverage: readonly [number, number];
}

const REPO = join(import.meta.dirname, '..');

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function cpuSeconds(pid: number): number | null {
  try {
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

async function startInjector(caFile: string): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(REPO, 'bin/skein.mjs'), 'injector', '--no-kube', '--host', '127.0.0.1', '--port', '0', '--ip-address', '127.0.0.1', '--ca-out', caFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`injector did not start in 30 s: ${stderr}`)), 30_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      stderr += d;
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`injector exited ${code}: ${stderr}`));
    });
  });
  // The CA file is written right after listening; wait for it with a deadline.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      if (readFileSync(caFile, 'utf8').includes('BEGIN CERTIFICATE')) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    pid: child.pid!,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

function review(agent: Agent, port: number, body: string, t0 = performance.now()): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', agent, servername: 'skein-injector.skein-system.svc', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => (n += d.length));
      res.on('end', () => (res.statusCode === 200 && n > 0 ? resolve(performance.now() - t0) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

async function closedLoop(agent: Agent, port: number, concurrency: number, total: number, body: string): Promise<number[]> {
  const latencies: number[] = [];
  let issued = 0;
  const worker = async () => {
    while (issued < total) {
      issued++;
      latencies.push(await review(agent, port, body));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latencies;
}

async function fixedRate(agent: Agent, port: number, concurrency: number, rate: number, total: number, body: string): Promise<number[]> {
  const latencies: number[] = [];
  const start = performance.now();
  const intervalMs = 1000 / rate;
  let next = 0;
  // Each slot is one connection's worth of in-flight work; a review waits for a free slot, and the wait counts.
  const slot = async () => {
    while (next < total) {
      const scheduled = start + next++ * intervalMs;
      const wait = scheduled - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      // From the scheduled time when the send is late (the wait counts: no coordinated omission), from the send itself
      // when it is early (a wait under 1 ms is not slept, and timers may fire early): never a negative latency.
      latencies.push(await review(agent, port, body, Math.min(scheduled, performance.now())));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, slot));
  return latencies;
}

function metricsText(agent: Agent, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent, servername: 'skein-injector.skein-system.svc' }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject).end();
  });
}

/** The smallest histogram bucket bound holding 99 % of the injected reviews. */
function handlerP99(text: string): number | null {
  const buckets = [...text.matchAll(/^skein_injector_admission_duration_seconds_bucket\{([^}]*)\} (\d+)/gm)]
    .filter((m) => m[1]!.includes('result="injected"'))
    .map((m) => [Number(/le="([^"]+)"/.exec(m[1]!)?.[1] === '+Inf' ? Infinity : /le="([^"]+)"/.exec(m[1]!)?.[1]), Number(m[2])] as const);
  const total = buckets.find(([le]) => le === Infinity)?.[1] ?? 0;
  if (total === 0) return null;
  const hit = buckets.find(([, n]) => n >= 0.99 * total);
  return hit ? hit[0] * 1000 : null;
}

export async function measureWebhookP99(opts: WebhookBenchOptions = {}): Promise<WebhookBenchResult> {
  const concurrency = opts.concurrency ?? 50;
  const rate = Math.min(opts.ratePerSecond ?? 200, 5000);
  const requests = Math.min(opts.requests ?? 6000, 100_000);
  const warmup = Math.min(opts.warmup ?? 600, 10_000);
  const saturationRequests = Math.min(opts.saturationRequests ?? 3000, 100_000);
  const loadBefore = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'skein-webhook-bench-'));
  const injector = await startInjector(join(dir, 'ca.pem'));
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: readFileSync(join(dir, 'ca.pem'), 'utf8') });
  try {
    const body = JSON.stringify(podAdmissionReview(samplePod()));
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    await fixedRate(agent, injector.port, concurrency, rate, warmup, body);
    const cpu0 = cpuSeconds(injector.pid);
    const latencies = await fixedRate(agent, injector.port, concurrency, rate, requests, body);
    const cpu1 = cpuSeconds(injector.pid);
    const handlerP99MsAtMost = handlerP99(await metricsText(agent, injector.port));
    latencies.sort((a, b) => a - b);
    let saturation: WebhookBenchResult['saturation'] = null;
    if (saturationRequests > 0) {
      const t0 = performance.now();
      const sat = await closedLoop(agent, injector.port, concurrency, saturationRequests, body);
      const seconds = (performance.now() - t0) / 1000;
      sat.sort((a, b) => a - b);
      saturation = { reviewsPerSecond: Math.round(sat.length / seconds), p50Ms: r3(percentile(sat, 50)), p99Ms: r3(percentile(sat, 99)) };
    }
    return {
      p99Ms: r3(percentile(latencies, 99)),
      p50Ms: r3(percentile(latencies, 50)),
      maxMs: r3(latencies[latencies.length - 1] ?? NaN),
      n: latencies.length,
      ratePerSecond: rate,
      concurrency,
      serverCpuUsPerReview: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / latencies.length) * 1e6) : null,
      saturation,
      handlerP99MsAtMost,
      loadAverage: [Math.round(loadBefore * 100) / 100, Math.round(loadavg()[0]! * 100) / 100],
    };
  } finally {
    agent.destroy();
    await injector.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await measureWebhookP99();
  process.stdout.write(`${JSON.stringify({ webhook: result, targetP99Ms: 10 })}\n`);
}
