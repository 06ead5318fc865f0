// Benchmark hook: how fast a TrafficPolicy change reaches every connected proxy, and what the control plane holds in memory.
//
// The control plane half is its own process (so that its RSS is its own): the real MeshTranslator and ConfigServer (default
// debounce), fed synthetic inputs: `services` Services over `namespaces` namespaces, each with a ClusterIP port and an
// EndpointSlice of 3 ready endpoints, and one TrafficPolicy on the first Service. The proxy half, in this process, opens N
// lightweight simulated proxies: each a real Subscribe stream over its own HTTP/2 connection, sending a Hello and ACKing every
// push at once without applying it (a real proxy's apply runs on its own CPU, not the control plane's).
//   push_p99_ms_N: the TrafficPolicy is changed; for each proxy, the time from the change to its ACK reaching the control plane
//     (debounce included); p50/p99/max over the proxies, median over `rounds` changes.
//   cp_rss_mb: the control plane's RSS after a full GC with `services` Services and `memoryProxies` proxies connected and synced.
// Run directly: `node bench/config-push.ts` (the server half runs as `node bench/config-push.ts --serve`).
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { loadConfigDiscovery, type Push } from '../api/proto/config-discovery.ts';

export interface ConfigPushOptions {
  readonly services?: number;
  readonly namespaces?: number;
  /** Proxy counts for which the push latency is measured. */
  readonly proxyCounts?: readonly number[];
  readonly rounds?: number;
  /** Proxies connected when the control plane's memory is read. */
  readonly memoryProxies?: number;
}

export interface PushLatency {
  readonly proxies: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Bytes of the push each proxy received for one change (the changed resources only). */
  readonly pushBytes: number;
  /** Streams cut by the control plane and reopened while this count was measured (initial sync included). */
  readonly reconnects: number;
}

export interface ConfigPushResult {
  readonly services: number;
  readonly latency: readonly PushLatency[];
  readonly cpRssMb: number;
  /** Of which the JS heap in use, and Buffers/external memory (after the GC). */
  readonly cpHeapMb: number;
  readonly cpExternalMb: number;
  readonly memoryProxies: number;
  /** RSS with the same Services and no proxy connected: what the proxies themselves cost is the difference. */
  readonly cpRssNoProxiesMb: number;
}

type ServerCommand = { cmd: 'bump'; expect: number } | { cmd: 'rss' };
type ServerReply = { port: number } | { acked: number[] } | { rssMb: number; heapMb: number; externalMb: number };

// ---------------------------------------------------------------- control plane half

async function serve(services: number, namespaces: number): Promise<void> {
  const { MeshTranslator } = await import('../control-plane/translation/mesh-translator.ts');
  const { ConfigServer } = await import('../control-plane/serving/config-server.ts');
  const ns = (i: number): string => `ns-${i % namespaces}`;
  const svcs = Array.from({ length: services }, (_, i) => ({
    metadata: { namespace: ns(i), name: `svc-${i}` },
    spec: { clusterIP: `10.96.${i >> 8}.${i & 255}`, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  }));
  const slices = Array.from({ length: services }, (_, i) => ({
    metadata: { namespace: ns(i), name: `svc-${i}-abc`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [0, 1, 2].map((e) => ({ addresses: [`10.${100 + e}.${i >> 8}.${i & 255}`], conditions: { ready: true } })),
  }));
  let generation = 0;
  const inputs = () => ({
    services: svcs,
    endpointSlices: slices,
    namespaces: [],
    trafficPolicies: [{
      apiVersion: 'skein.dev/v1alpha1', kind: 'TrafficPolicy',
      metadata: { namespace: ns(0), name: 'bench', generation: ++generation, creationTimestamp: '2026-12-01T00:00:00Z' },
      spec: { targetRef: { kind: 'Service', name: 'svc-0' }, timeouts: { request: `${1000 + generation}ms` } },
    }],
    httpRoutes: [],
    grpcRoutes: [],
  });
  const translator = new MeshTranslator((p) => ({ namespace: p.namespace, outboundNamespaces: null }));
  translator.setInputs(inputs() as never);
  let bumpedAt = 0;
  let expectAcks = 0;
  let acked: number[] = [];
  const ackedBy = new Set<string>();
  const reply = (r: ServerReply): void => void process.stdout.write(`${JSON.stringify(r)}\n`);
  const server = new ConfigServer({
    source: translator,
    log: () => {},
    events: {
      onAck: (proxyId) => {
        if (expectAcks === 0 || ackedBy.has(proxyId)) return;
        ackedBy.add(proxyId);
        acked.push(performance.now() - bumpedAt);
        if (acked.length === expectAcks) {
          expectAcks = 0;
          reply({ acked });
        }
      },
    },
  });
  const port = await server.listen('127.0.0.1', 0);
  reply({ port });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const c = JSON.parse(line) as ServerCommand;
    if (c.cmd === 'bump') {
      acked = [];
      ackedBy.clear();
      expectAcks = c.expect;
      bumpedAt = performance.now();
      // What the informer callback does on a TrafficPolicy event: new inputs, then every proxy is looked at (debounced).
      translator.setInputs(inputs() as never);
      server.changed('all');
    } else {
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      reply({ rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20, externalMb: (m.external + m.arrayBuffers) / 2 ** 20 });
    }
  });
  lines.on('close', () => void server.close().then(() => process.exit(0)));
}

// ---------------------------------------------------------------- proxy half

interface ServerHandle {
  readonly port: number;
  send(c: ServerCommand): Promise<ServerReply>;
  stop(): void;
}

async function startServer(services: number, namespaces: number): Promise<ServerHandle> {
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', import.meta.filename, '--serve', String(services), String(namespaces)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((r: ServerReply) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(JSON.parse(l) as ServerReply));
  const next = (): Promise<ServerReply> => new Promise((resolve, reject) => {
    waiting.push(resolve);
    child.once('exit', (code) => reject(new Error(`control plane half exited (${code})`)));
  });
  const first = (await next()) as { port: number };
  return {
    port: first.port,
    send: (c) => {
      const r = next();
      child.stdin!.write(`${JSON.stringify(c)}\n`);
      return r;
    },
    stop: () => child.stdin!.end(),
  };
}

interface SimulatedProxies {
  /** Resolves once every proxy got its first push and ACKed it. */
  readonly synced: Promise<void>;
  lastPushBytes: number;
  /** Streams the control plane cut (ACK timeout) that the proxy opened again. */
  reconnects: number;
  close(): void;
}

function connectProxies(port: number, count: number, namespaces: number): SimulatedProxies {
  const { Client } = loadConfigDiscovery();
  const clients: grpc.Client[] = [];
  const calls = new Set<grpc.ClientDuplexStream<unknown, unknown>>();
  let first = 0;
  let closed = false;
  let resolveSynced!: () => void;
  const out: SimulatedProxies = { synced: new Promise((r) => (resolveSynced = r)), lastPushBytes: 0, reconnects: 0, close: () => {} };
  for (let i = 0; i < count; i++) {
    // A connection of its own per proxy, as in a cluster (grpc-js would otherwise share one subchannel).
    const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 << 20 });
    clients.push(c);
    // What the proxy holds (versions only: the bodies are not applied), so that a reconnect asks for the difference.
    const known = new Map<string, string>();
    let seen = false;
    const subscribe = (): void => {
      const call = (c as unknown as { subscribe(): grpc.ClientDuplexStream<unknown, unknown> }).subscribe();
      calls.add(call);
      call.on('data', (raw: unknown) => {
        const p = raw as Push;
        out.lastPushBytes = p.resources.reduce((n, r) => n + r.body.length, 0);
        for (const r of p.resources) known.set(`${r.type}/${r.name}`, r.version);
        for (const r of p.removed) known.delete(`${r.type}/${r.name}`);
        call.write({ ack: { nonce: p.nonce, version: p.version } });
        if (!seen) {
          seen = true;
          if (++first === count) resolveSynced();
        }
      });
      call.on('error', () => {
        calls.delete(call);
        // Cut (an ACK that came too late under load): back at once, as a real proxy would after its backoff.
        if (!closed) {
          out.reconnects++;
          setTimeout(subscribe, 50);
        }
      });
      call.write({ hello: { proxyId: '', podName: `proxy-${i}`, podNamespace: `ns-${i % namespaces}`, podIp: `10.244.${i >> 8}.${i & 255}`, serviceAccount: 'default', token: '', mode: 'sidecar', proxyVersion: 'bench', knownVersions: Object.fromEntries(known) } });
    };
    subscribe();
  }
  out.close = () => {
    closed = true;
    for (const call of calls) call.cancel();
    for (const c of clients) c.close();
  };
  return out;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function measureConfigPush(opts: ConfigPushOptions = {}): Promise<ConfigPushResult> {
  const services = opts.services ?? 1000;
  const namespaces = opts.namespaces ?? 10;
  const rounds = opts.rounds ?? 5;
  const server = await startServer(services, namespaces);
  try {
    const idle = (await server.send({ cmd: 'rss' })) as { rssMb: number };
    const latency: PushLatency[] = [];
    for (const n of opts.proxyCounts ?? [100, 1000]) {
      const proxies = connectProxies(server.port, n, namespaces);
      try {
        await proxies.synced;
        const per: { p50: number; p99: number; max: number }[] = [];
        for (let r = 0; r < rounds; r++) {
          const { acked } = (await server.send({ cmd: 'bump', expect: n })) as { acked: number[] };
          const s = [...acked].sort((a, b) => a - b);
          per.push({ p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1)! });
        }
        latency.push({ proxies: n, p50Ms: median(per.map((x) => x.p50)), p99Ms: median(per.map((x) => x.p99)), maxMs: median(per.map((x) => x.max)), pushBytes: proxies.lastPushBytes, reconnects: proxies.reconnects });
      } finally {
        proxies.close();
      }
    }
    const memoryProxies = opts.memoryProxies ?? 2000;
    const many = connectProxies(server.port, memoryProxies, namespaces);
    try {
      await many.synced;
      const { rssMb, heapMb, externalMb } = (await server.send({ cmd: 'rss' })) as { rssMb: number; heapMb: number; externalMb: number };
      return { services, latency, cpRssMb: Math.round(rssMb), cpHeapMb: Math.round(heapMb), cpExternalMb: Math.round(externalMb), memoryProxies, cpRssNoProxiesMb: Math.round(idle.rssMb) };
    } finally {
      many.close();
    }
  } finally {
    server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [flag, a, b] = process.argv.slice(2);
  if (flag === '--serve') await serve(Number(a), Number(b));
  else {
    process.stdout.write(`${JSON.stringify(await measureConfigPush(), null, 2)}\n`);
    process.exit(0);
  }
}
