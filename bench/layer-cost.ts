// The CPU each policy layer adds to one request, in process and without sockets (so it holds on a busy machine, where the
// closed-loop figures of bench/policy-cost.ts move by more than the 5 % they judge): every policy at its defaults
// (POLICY_DEFAULTS' values) over the upstream attempt answering at once, each layer alone, and the attempt span
// layer of a request not sampled. Usage: node bench/layer-cost.ts [checkout dir, default this one] [--requests N]
// Prints ns per request (process CPU time, median of rounds) for each stack, and each over the bare one.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type Req = { deadline: number; startedAt: number; endpoint: unknown; headers: Record<string, string> };
type Res = { body: { start(sink: unknown): void } | null };
type Svc = (req: Req) => Promise<Res>;
type Layer = (inner: Svc) => Svc;

const args = process.argv.slice(2);
const at = args.indexOf('--requests');
const N = at >= 0 ? Number(args[at + 1]) : 100_000;
const root = resolve(args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--requests') ?? resolve(import.meta.dirname, '..'));
// Another checkout's modules: their types are not this one's.
const imp = async (p: string): Promise<any> => import(pathToFileURL(resolve(root, p)).href);

const P = await imp('api/config/parse-policy-config.ts');
const { ProxyRequest } = await imp('proxy/stack/proxy-request.ts');
const { ProxyResponse } = await imp('proxy/stack/proxy-response.ts');
const { CircuitBreaker } = await imp('proxy/policy/circuit-breaker.ts');
const { circuitBreakerLayer } = await imp('proxy/policy/circuit-breaker-layer.ts');
const { FaultDecision } = await imp('proxy/policy/fault-decision.ts');
const { faultInjectionLayer } = await imp('proxy/policy/fault-injection.ts');
const { localRateLimitLayer } = await imp('proxy/policy/local-rate-limit.ts');
const { OutlierDetector } = await imp('proxy/policy/outlier-detector.ts');
const { outlierLayer } = await imp('proxy/policy/outlier-layer.ts');
const { retryLayer } = await imp('proxy/policy/retry.ts');
const { RetryBudget } = await imp('proxy/policy/retry-budget.ts');
const { RetryPolicy } = await imp('proxy/policy/retry-policy.ts');
const { TokenBucket } = await imp('proxy/policy/token-bucket.ts');
const { streamIdleLayer } = await imp('proxy/policy/timeout.ts');
const { spanLayer } = await imp('proxy/stack/stack-hooks.ts');
const { UpstreamAttempt } = await imp('proxy/stack/upstream-attempt.ts');

const downstream = { listener: 'l', direction: 'outbound', clientAddress: '127.0.0.1', clientPort: 1, tls: false, sni: null, peerIdentity: null, originalDst: null };
const endpoint = { state: { key: 'e', address: '127.0.0.1', port: 1, active: 0, ejectedUntil: 0, observeLatency(): void {} } };
const now = (): number => performance.now();
const deps = { now, random: Math.random, metrics: {}, clusterService: () => null };
const sink = { data: () => true, end: () => {}, error: () => {} };
const CHUNK = Buffer.from('x');
/**
 * The checkout's own upstream attempt (proxy/stack/upstream-attempt.ts) answering at once, so that what it charges per
 * request is counted as in the proxy (its deadline in the shared queue, the stream idle clock, the result told to outlier
 * detection, the body held until serve starts it): the head, one chunk and the end arrive before the body is started.
 */
class ReadyAttempt extends UpstreamAttempt {
  constructor(req: Req) {
    super(req, req.endpoint);
  }
  abortUpstream(): void {}
  resume(): void {}
  run(): Promise<Res> {
    // Checkouts before the stream idle clock called it observeLatency.
    if (this.headArrived !== undefined) this.headArrived();
    else this.observeLatency();
    this.resolve(new ProxyResponse(200, {}, this));
    this.deliver(CHUNK);
    this.finish(null);
    return this.promise;
  }
}
/** The upstream attempt alone; with a request deadline (15 s) it is the route timeout's cost. */
const bare: Svc = (req) => new ReadyAttempt(req).run();
const timed = bare;

const problems: unknown[] = [];
const retries = P.parseRetryPolicy({}, 'r', problems);
const layers: Record<string, () => Layer> = {
  'rate limit': () => localRateLimitLayer(new TokenBucket({ requestsPerSecond: 1e9, burst: 1e9 }, now()), now),
  'fault (header absent)': () => faultInjectionLayer(new FaultDecision(P.parseFaultInjection({ abort: { httpStatus: 503 }, header: 'x-bench-fault' }, 'f', problems)), deps),
  retry: () => retryLayer(new RetryPolicy(retries), new RetryBudget(retries.budget, now()), deps, () => null, { retries: 0, budgetExhausted: 0, bodyTooLarge: 0, breakerOverflow: 0 }),
  'stream idle': () => streamIdleLayer(300_000),
  'circuit breaker': () => circuitBreakerLayer(new CircuitBreaker(P.parseCircuitBreaker({}))),
  'outlier detection': () => outlierLayer(new OutlierDetector(P.parseOutlierDetection({}, 'o', problems), now, () => {}), () => [endpoint.state]),
};
// The same limit shared by an ingress's workers (checkouts that have it): the worker's side with the supervisor in this
// process, its answers delivered a microtask later. What this leaves out is the IPC itself: one message each way per
// half lease (128 requests at this burst), in the worker and the supervisor.
const alone: Record<string, () => Layer> = { ...layers };
const leased = await imp('proxy/workers/leased-bucket.ts').catch(() => null);
if (leased !== null) {
  const { RateLimitBroker } = await imp('proxy/workers/rate-limit-broker.ts');
  const { sharedRateLimitLayer } = await imp('proxy/policy/local-rate-limit.ts');
  const broker = new RateLimitBroker(2, now);
  const client = new leased.LeaseClient({
    send: (m: { type: string }) =>
      queueMicrotask(() => {
        if (m.type === 'skein:lease-release') return broker.release(1, m);
        const g = broker.acquire(1, m);
        if (g !== null) client.granted(g);
      }),
    now,
    onTimeout: () => {},
  });
  alone['rate limit shared by workers'] = () => sharedRateLimitLayer(client.bucket('route:bench', { requestsPerSecond: 1e9, burst: 1e9 }), now);
}
const stacks: Record<string, [Svc, number]> = {
  bare: [bare, 0],
  'every policy at its defaults (15 s route timeout)': [Object.values(layers).reduceRight((s, l) => l()(s), timed), 15_000],
  'route timeout alone (the attempt deadline)': [timed, 15_000],
  ...Object.fromEntries(Object.entries(alone).map(([k, l]) => [`${k} alone`, [l()(bare), 0]])),
  'attempt span layer, not sampled': [spanLayer(() => null, 'attempt')(bare), 0],
};

async function round(s: Svc, timeoutMs: number): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const req = new ProxyRequest('GET', 'svc', '/', Object.create(null), null, downstream, false, now()) as Req;
    req.endpoint = endpoint;
    if (timeoutMs > 0) req.deadline = req.startedAt + timeoutMs;
    (await s(req)).body?.start(sink);
  }
  const u = process.cpuUsage(t0);
  return ((u.user + u.system) * 1000) / N;
}

const ROUNDS = 5;
const ns: Record<string, number[]> = {};
for (let r = 0; r < ROUNDS; r++) for (const [k, [s, t]] of Object.entries(stacks)) (ns[k] ??= []).push(await round(s, t));
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const base = median(ns.bare!);
console.log(`${root}: ns of CPU per request, median of ${ROUNDS} rounds of ${N}`);
console.log('| stack | ns per request | added over bare |');
console.log('|---|---|---|');
for (const [k, v] of Object.entries(ns)) console.log(`| ${k} | ${median(v).toFixed(0)} | ${k === 'bare' ? '-' : (median(v) - base).toFixed(0)} |`);
