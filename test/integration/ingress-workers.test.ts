// An ingress of several worker processes behaves as one proxy: a scrape of its admin port counts every worker's requests,
// a local rate limit holds for the whole proxy (not per worker), and a stuck worker does not hang the scrape.
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startProxyProcess, type ProxyProcess } from '../support/start-proxy.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';

const BURST = 20;
/** What a worker keeps at hand of a shared bucket (rate-limit-broker.ts leaseSize: a quarter of the burst per worker). */
const LEASE = Math.floor(BURST / (4 * 2));

let proxy: ProxyProcess;
let echo: Upstream;
let httpPort = 0;
let adminPort = 0;

beforeAll(async () => {
  echo = await startHttpUpstream('h1', { id: 'echo' });
  [httpPort, adminPort] = [await freePort(), await freePort()];
  const config = {
    mode: 'ingress',
    admin: { address: '127.0.0.1', port: adminPort },
    drainTimeoutMs: 2_000,
    listeners: [
      {
        name: 'http',
        address: '127.0.0.1',
        port: httpPort,
        virtualHosts: [
          {
            name: 'all',
            domains: ['*'],
            routes: [
              // One token per 100 s: nothing refills while the test runs, so what passes is the burst.
              { name: 'limited', match: { path: { type: 'prefix', value: '/limited' } }, backends: [{ cluster: 'echo' }], rateLimit: { requestsPerSecond: 0.01, burst: BURST } },
              { name: 'open', backends: [{ cluster: 'echo' }] },
            ],
          },
        ],
      },
    ],
    clusters: [{ name: 'echo', endpoints: [{ address: '127.0.0.1', port: echo.port }] }],
  };
  proxy = await startProxyProcess(config, ['--mode', 'ingress', '--workers', '2'], [httpPort]);
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await echo?.close();
});

/** One request on a connection of its own (so that the kernel may hand each to either worker): its status. */
function get(port: number, path: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrape(): Promise<string> {
  const r = await get(adminPort, '/metrics');
  expect(r.status).toBe(200);
  return r.body;
}

/** The sum of every series of `name` whose labels contain `labels`. */
function total(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const close = line.lastIndexOf(' ');
    if (labels !== '' && !line.slice(0, close).includes(labels)) continue;
    sum += Number(line.slice(close + 1));
  }
  return sum;
}

/** Requests completed by worker slot 0 and slot 1. */
function perWorker(text: string): [number, number] {
  return [total(text, 'skein_ingress_worker_requests_total', 'worker="0"'), total(text, 'skein_ingress_worker_requests_total', 'worker="1"')];
}

/** The supervisor's worker processes (its children). */
function workerPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^[0-9]+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(proxy.child.pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('skein proxy --mode ingress --workers 2: one proxy', () => {
  it('a scrape of the admin port counts the requests of both workers', async () => {
    let sent = 0;
    let served: [number, number] = [0, 0];
    // Rounds of new connections until the kernel has handed some to each worker (bounded).
    for (let round = 0; round < 50 && !(served[0] > 0 && served[1] > 0); round++) {
      const answers = await Promise.all(Array.from({ length: 8 }, () => get(httpPort, '/open')));
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      sent += 8;
      served = perWorker(await scrape());
    }
    expect(served[0]).toBeGreaterThan(0);
    expect(served[1]).toBeGreaterThan(0);
    const text = await scrape();
    expect(total(text, 'skein_requests_total', 'route="open"')).toBe(sent);
    expect(total(text, 'skein_request_duration_seconds_count', 'route="open"')).toBe(sent);
    expect(served[0] + served[1]).toBe(sent);
    expect(total(text, 'skein_ingress_workers')).toBe(2);
  });

  it(`a rate limit with burst ${BURST} admits ${BURST} (at most ${LEASE} fewer) over both workers, not ${2 * BURST}`, async () => {
    const before = perWorker(await scrape());
    const statuses: number[] = [];
    let seen: [number, number] = [0, 0];
    // Until each worker alone has had more than the burst: with a bucket per worker, each would admit BURST.
    for (let round = 0; round < 60 && !(seen[0] > BURST && seen[1] > BURST); round++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => get(httpPort, '/limited')));
      statuses.push(...answers.map((a) => a.status));
      for (const a of answers) if (a.status === 429) expect(a.headers['retry-after']).toBe('100');
      const now = perWorker(await scrape());
      seen = [now[0] - before[0], now[1] - before[1]];
    }
    expect(seen[0]).toBeGreaterThan(BURST);
    expect(seen[1]).toBeGreaterThan(BURST);
    const admitted = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(admitted).toBeLessThanOrEqual(BURST);
    // One worker may refuse while the other still holds its lease (docs/proxy-config.md, "Local rate limit").
    expect(admitted).toBeGreaterThanOrEqual(BURST - LEASE);
  });

  it('a worker that does not answer (stopped) does not hang the scrape: its last counters are used and the miss is counted', async () => {
    const pids = workerPids();
    expect(pids).toHaveLength(2);
    const before = await scrape();
    process.kill(pids[0]!, 'SIGSTOP');
    try {
      const text = await scrape();
      expect(total(text, 'skein_requests_total')).toBe(total(before, 'skein_requests_total'));
      expect(total(text, 'skein_ingress_worker_scrape_misses_total')).toBe(total(before, 'skein_ingress_worker_scrape_misses_total') + 1);
    } finally {
      process.kill(pids[0]!, 'SIGCONT');
    }
    expect(proxy.stderr()).toContain('a worker did not answer the metrics scrape in time');
  });

  it('SIGTERM stops every worker and the supervisor exits 0', async () => {
    expect(await proxy.stop()).toBe(0);
  });
});
