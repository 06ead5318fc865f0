// Benchmark hook: certificate issuance by the control plane's Certify service on one core (target >= 500 certs/s, p99 < 20 ms).
//
// The server is its own process, pinned to one CPU with taskset where available: the real IdentityServer over TLS, the
// real CA (ECDSA P-256) and CSR checks, with a TokenReview that answers at once (the API server's cost is not ours to
// measure here, and it would dominate). The client, in this process and on another CPU, sends real CSRs over gRPC/TLS:
//   1. closed loop, `concurrency` calls in flight: certificates per second of the server's CPU (one core's capacity) and per
//      wall second;
//   2. fixed rate (`ratePerSecond`), latency counted from each call's scheduled time (no coordinated omission): p50/p99.
// Run directly: `node bench/certify.ts` (the server half runs as `node bench/certify.ts --serve`).
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { buildWorkloadCsr, generateWorkloadKey } from '../api/identity/pkcs10.ts';
import { loadIdentity, type CertifyRequest, type CertifyResponse } from '../api/proto/identity.ts';
import { ok } from '../api/result.ts';
import { cpuSeconds } from './lib/proc-stats.ts';

export interface CertifyBenchOptions {
  readonly concurrency?: number;
  readonly saturationCalls?: number;
  readonly ratePerSecond?: number;
  readonly rateCalls?: number;
  readonly warmup?: number;
}

export interface CertifyBenchResult {
  /** Closed loop: certificates per CPU-second of the server process (what one core issues). */
  readonly certsPerCpuSecond: number;
  /** Closed loop: certificates per wall second (lower on a busy machine). */
  readonly certsPerSecond: number;
  /** Fixed rate: latency from each call's scheduled send time, over gRPC/TLS on loopback. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly ratePerSecond: number;
  readonly n: number;
  readonly concurrency: number;
  readonly pinnedCpu: number | null;
  readonly loadAverage: readonly [number, number];
}

const ID = 'spiffe://cluster.local/ns/bench/sa/client';

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The server half: prints `{ port, bundle }` on one line and serves until stdin closes. */
async function serve(): Promise<void> {
  const { generateRootSecretData, loadCaMaterial } = await import('../control-plane/identity/ca-material.ts');
  const { CertificateAuthority } = await import('../control-plane/identity/certificate-authority.ts');
  const { IdentityService } = await import('../control-plane/identity/identity-service.ts');
  const { IdentityServer } = await import('../control-plane/identity/identity-server.ts');
  const m = loadCaMaterial(generateRootSecretData('cluster.local', Date.now()), Date.now());
  if (!m.ok) throw new Error(m.error.join('; '));
  const ca = new CertificateAuthority(m.value);
  const service = new IdentityService({
    trustDomain: 'cluster.local', ca: () => ca, leafTtlMs: 86_400_000,
    reviewer: { review: () => Promise.resolve(ok({ namespace: 'bench', serviceAccount: 'client' })) },
  });
  const server = new IdentityServer(service);
  const serving = ca.issueServing(['localhost'], Date.now(), 86_400_000);
  const port = await server.listen('127.0.0.1', 0, grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(serving.keyPem), cert_chain: Buffer.from(serving.certChainPem) }]));
  process.stdout.write(`${JSON.stringify({ port, bundle: ca.trustBundlePem })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
}

type CertifyClient = grpc.Client & { Certify(req: CertifyRequest, cb: grpc.requestCallback<CertifyResponse>): grpc.ClientUnaryCall };

async function startServer(cpu: number | null): Promise<{ port: number; bundle: string; pid: number; stop: () => void }> {
  const args = [import.meta.filename, '--serve'];
  const child = cpu === null ? spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] }) : spawn('taskset', ['-c', String(cpu), process.execPath, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the Certify server did not start in 30 s')), 30_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.split('\n')[0]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Certify server exited ${code}`));
    });
  });
  const { port, bundle } = JSON.parse(line) as { port: number; bundle: string };
  return { port, bundle, pid: child.pid!, stop: () => child.stdin!.end() };
}

function call(client: CertifyClient, req: CertifyRequest, t0 = performance.now()): Promise<number> {
  return new Promise((resolve, reject) => {
    client.Certify(req, (e, r) => (e || !r?.certificateChainPem ? reject(e ?? new Error('empty answer')) : resolve(performance.now() - t0)));
  });
}

export async function measureCertIssuance(opts: CertifyBenchOptions = {}): Promise<CertifyBenchResult> {
  const concurrency = opts.concurrency ?? 16;
  const saturationCalls = Math.min(opts.saturationCalls ?? 4000, 100_000);
  const rate = Math.min(opts.ratePerSecond ?? 500, 5000);
  const rateCalls = Math.min(opts.rateCalls ?? 5000, 100_000);
  const warmup = Math.min(opts.warmup ?? 500, 10_000);
  const loadBefore = loadavg()[0]!;
  // The server gets the last CPU; this client process keeps to the others.
  const pinned = existsSync('/usr/bin/taskset') && cpus().length > 1 ? cpus().length - 1 : null;
  const server = await startServer(pinned);
  const { Client } = loadIdentity();
  const client = new Client(`localhost:${server.port}`, grpc.credentials.createSsl(Buffer.from(server.bundle))) as unknown as CertifyClient;
  try {
    const requests: CertifyRequest[] = Array.from({ length: 64 }, () => ({ identity: ID, token: 'bench', csrPem: buildWorkloadCsr(generateWorkloadKey().privateKey, ID) }));
    let i = 0;
    const nextRequest = (): CertifyRequest => requests[i++ % requests.length]!;
    const closedLoop = async (total: number): Promise<void> => {
      let issued = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (issued < total) {
          issued++;
          await call(client, nextRequest());
        }
      }));
    };
    await closedLoop(warmup);
    const cpu0 = cpuSeconds(server.pid);
    const t0 = performance.now();
    await closedLoop(saturationCalls);
    const wall = (performance.now() - t0) / 1000;
    const cpu = (cpuSeconds(server.pid) ?? NaN) - (cpu0 ?? NaN);

    const latencies: number[] = [];
    const start = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < rateCalls) {
        const scheduled = start + next++ * (1000 / rate);
        const wait = scheduled - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        latencies.push(await call(client, nextRequest(), scheduled));
      }
    }));
    latencies.sort((a, b) => a - b);
    const r3 = (x: number): number => Math.round(x * 1000) / 1000;
    return {
      certsPerCpuSecond: Math.round(saturationCalls / cpu),
      certsPerSecond: Math.round(saturationCalls / wall),
      p50Ms: r3(percentile(latencies, 50)),
      p99Ms: r3(percentile(latencies, 99)),
      maxMs: r3(latencies[latencies.length - 1]!),
      ratePerSecond: rate,
      n: latencies.length,
      concurrency,
      pinnedCpu: pinned,
      loadAverage: [loadBefore, loadavg()[0]!],
    };
  } finally {
    client.close();
    server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--serve')) await serve();
  else process.stdout.write(`${JSON.stringify(await measureCertIssuance(), null, 2)}\n`);
}
