// Benchmark hook: how fast a TrafficPolicy change reaches every connected proxy, and what the control plane holds in memory.
//
// The control plane half is its own process (so that its RSS is its own), started with the V8 flags and environment of
// `skein control-plane` (bin/process-settings.mjs): the real MeshTranslator and ConfigServer (default debounce), fed synthetic inputs: `services` Services over `namespaces` namespaces, each with a ClusterIP port and an
// EndpointSlice of 3 ready endpoints, and one TrafficPolicy on the first Service. The proxy half, in this process, opens N
// lightweight simulated proxies: each a real Subscribe stream over its own HTTP/2 connection, sending a Hello and ACKing every
// push at once without applying it (a real proxy's apply runs on its own CPU, not the control plane's). They read each push's
// framing (nonce, version, resource keys and versions) and skip the bodies, so that 2000 of them fit beside the control plane
// on a small machine without their decoding stealing its CPU.
//   push_p99_ms_N: the TrafficPolicy is changed; for each proxy, the time from the change to its ACK reaching the control plane
//     (debounce included); p50/p99/max over the proxies, median over `rounds` changes.
//   cp_rss_mb: the RSS of a fresh control plane (not the one that served the latency rounds) after full GCs with `services`
//     Services and `memoryProxies` proxies connected and synced, and again after one change pushed to all of them (the
//     larger of the two). CONFIG_PUSH_HEAP_SNAPSHOTS=<dir>
//     writes a heap snapshot of the control plane at each memory reading.
// Run directly: `node bench/config-push.ts [--services 1000] [--namespaces 10] [--proxies 100,1000] [--memory-proxies 2000]
// [--rounds 5]` (the server half runs as `node bench/config-push.ts --serve`).
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfigDiscovery } from '../api/proto/config-discovery.ts';

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
  /** Bytes of the push each proxy received for one change (the changed resources' bodies only). */
  readonly pushBytes: number;
  /** Streams cut by the control plane and reopened while this count was measured (initial sync included). */
  readonly reconnects: number;
  /** Time from opening the streams to every proxy's first push ACKed. */
  readonly syncMs: number;
}

/** The control plane's memory at one point of the run, after a full GC. */
export interface MemoryPhase {
  readonly phase: string;
  readonly proxies: number;
  readonly rssMb: number;
  readonly heapMb: number;
  /** The JS heap's size (what V8 holds from the system for it, used or not). */
  readonly heapTotalMb: number;
  /** Memory outside the JS heap that V8 accounts for (Buffers included). */
  readonly externalMb: number;
  /** Of which ArrayBuffers and Buffers. */
  readonly arrayBuffersMb: number;
}

export interface ConfigPushResult {
  readonly services: number;
  readonly namespaces: number;
  readonly latency: readonly PushLatency[];
  /** RSS with `services` Services and `memoryProxies` proxies synced (the larger of: synced, and after one change). */
  readonly cpRssMb: number;
  readonly cpHeapMb: number;
  readonly cpExternalMb: number;
  readonly memoryProxies: number;
  /** RSS with the same Services and no proxy connected: what the proxies themselves cost is the difference. */
  readonly cpRssNoProxiesMb: number;
  /** Bytes of resource bodies in the first push a proxy receives (its whole config). */
  readonly initialPushBytes: number;
  readonly memory: readonly MemoryPhase[];
}

type ServerCommand = { cmd: 'bump'; expect: number } | { cmd: 'rss'; phase: string };
type Usage = { rssMb: number; heapMb: number; heapTotalMb: number; externalMb: number; arrayBuffersMb: number };
type ServerReply = { port: number } | { acked: number[] } | Usage;

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
    } else void readMemory(c.phase).then(reply);
  });
  lines.on('close', () => void server.close().then(() => process.exit(0)));
}

/**
 * The process's memory after full GCs. Buffers freed by a GC give their memory back a little later (their backing stores
 * are released after the collection): read at once, `arrayBuffers` still counts every Buffer just collected (it read
 * 1.7 MB per connected proxy before, 0.1 MB once settled).
 */
async function readMemory(phase: string): Promise<Usage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
  const m = process.memoryUsage();
  const mb = (n: number): number => n / 2 ** 20;
  // For finding what holds memory: a heap snapshot per phase (open in Chrome DevTools, Memory tab).
  const dir = process.env.CONFIG_PUSH_HEAP_SNAPSHOTS;
  if (dir) (await import('node:v8')).writeHeapSnapshot(`${dir}/config-push-${phase.replace(/[^a-z0-9]+/gi, '-')}.heapsnapshot`);
  // `external` already includes `arrayBuffers` (Node's definition): they are reported apart, never added.
  return { rssMb: mb(m.rss), heapMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers) };
}

// ---------------------------------------------------------------- proxy half

interface ServerHandle {
  readonly port: number;
  send(c: ServerCommand): Promise<ServerReply>;
  stop(): void;
}

async function startServer(services: number, namespaces: number): Promise<ServerHandle> {
  // Set up as `skein control-plane` runs in a pod: its V8 flags and environment (bin/process-settings.mjs).
  const settings = (await import(new URL('../bin/process-settings.mjs', import.meta.url).href)) as { V8_FLAGS: Record<string, string[]>; ENV: Record<string, Record<string, string>> };
  const child: ChildProcess = spawn(process.execPath, [...settings.V8_FLAGS['control-plane']!, '--expose-gc', import.meta.filename, '--serve', String(services), String(namespaces)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...settings.ENV['control-plane'], ...process.env },
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting: { resolve: (r: ServerReply) => void; reject: (e: Error) => void }[] = [];
  lines.on('line', (l) => waiting.shift()?.resolve(JSON.parse(l) as ServerReply));
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`control plane half exited (${code})`));
  });
  const next = (): Promise<ServerReply> => new Promise((resolve, reject) => void waiting.push({ resolve, reject }));
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

/** What a simulated proxy reads of a Push: the framing, not the bodies (it does not apply them). */
interface PushFrame {
  readonly nonce: string;
  readonly version: string;
  readonly resources: readonly { readonly key: string; readonly version: string; readonly bodyBytes: number }[];
  readonly removed: readonly string[];
}

/** Reads the fields of a protobuf message (api/proto/config-discovery.proto) by number; length-delimited ones as slices. */
function fields(b: Uint8Array, each: (field: number, value: Uint8Array) => void): void {
  let i = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = b[i++]!;
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
    }
  };
  while (i < b.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint();
      each(tag >>> 3, b.subarray(i, i + len));
      i += len;
    } else if (wire === 0) varint();
    else throw new Error(`unexpected wire type ${wire}`);
  }
}

function decodePushFrame(buf: Buffer): PushFrame {
  const text = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString();
  let nonce = '';
  let version = '';
  const resources: { key: string; version: string; bodyBytes: number }[] = [];
  const removed: string[] = [];
  fields(buf, (f, v) => {
    if (f === 1) nonce = text(v);
    else if (f === 2) version = text(v);
    else if (f === 3 || f === 4) {
      const r = { type: '', name: '', version: '', bodyBytes: 0 };
      fields(v, (g, w) => {
        if (g === 1) r.type = text(w);
        else if (g === 2) r.name = text(w);
        else if (g === 3) r.version = text(w);
        else if (g === 4) r.bodyBytes = w.length;
      });
      if (f === 3) resources.push({ key: `${r.type}/${r.name}`, version: r.version, bodyBytes: r.bodyBytes });
      else removed.push(`${r.type}/${r.name}`);
    }
  });
  return { nonce, version, resources, removed };
}

interface SimulatedProxies {
  /** Resolves once every proxy got its first push and ACKed it. */
  readonly synced: Promise<void>;
  lastPushBytes: number;
  firstPushBytes: number;
  /** Streams the control plane cut (ACK timeout) that the proxy opened again. */
  reconnects: number;
  close(): void;
}

function connectProxies(port: number, count: number, namespaces: number): SimulatedProxies {
  const { service } = loadConfigDiscovery();
  const Client = grpc.makeGenericClientConstructor({ Subscribe: { ...service.Subscribe!, responseDeserialize: decodePushFrame } }, 'ConfigDiscovery');
  const clients: grpc.Client[] = [];
  const calls = new Set<grpc.ClientDuplexStream<unknown, unknown>>();
  let first = 0;
  let closed = false;
  let resolveSynced!: () => void;
  const out: SimulatedProxies = { synced: new Promise((r) => (resolveSynced = r)), lastPushBytes: 0, firstPushBytes: 0, reconnects: 0, close: () => {} };
  for (let i = 0; i < count; i++) {
    // A connection of its own per proxy, as in a cluster (grpc-js would otherwise share one subchannel).
    const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 << 20 });
    clients.push(c);
    // What the proxy holds (versions only: the bodies are not applied), so that a reconnect asks for the difference.
    const known = new Map<string, string>();
    let seen = false;
    const subscribe = (): void => {
      const call = (c as unknown as { Subscribe(): grpc.ClientDuplexStream<unknown, unknown> }).Subscribe();
      calls.add(call);
      call.on('data', (raw: unknown) => {
        const p = raw as PushFrame;
        const bytes = p.resources.reduce((n, r) => n + r.bodyBytes, 0);
        out.lastPushBytes = bytes;
        for (const r of p.resources) known.set(r.key, r.version);
        for (const k of p.removed) known.delete(k);
        call.write({ ack: { nonce: p.nonce, version: p.version } });
        if (!seen) {
          seen = true;
          out.firstPushBytes = Math.max(out.firstPushBytes, bytes);
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
const round1 = (x: number): number => Math.round(x * 10) / 10;

export async function measureConfigPush(opts: ConfigPushOptions = {}): Promise<ConfigPushResult> {
  const services = opts.services ?? 1000;
  const namespaces = opts.namespaces ?? 10;
  const rounds = opts.rounds ?? 5;
  const memoryProxies = opts.memoryProxies ?? 2000;
  const memory: MemoryPhase[] = [];
  const measure = async (server: ServerHandle, phase: string, proxies: number): Promise<MemoryPhase> => {
    const u = (await server.send({ cmd: 'rss', phase })) as Usage;
    const m: MemoryPhase = { phase, proxies, rssMb: round1(u.rssMb), heapMb: round1(u.heapMb), heapTotalMb: round1(u.heapTotalMb), externalMb: round1(u.externalMb), arrayBuffersMb: round1(u.arrayBuffersMb) };
    memory.push(m);
    return m;
  };
  /** One change pushed to `n` connected proxies: p50/p99/max of change -> ACK. */
  const change = async (server: ServerHandle, n: number): Promise<{ p50: number; p99: number; max: number }> => {
    const { acked } = (await server.send({ cmd: 'bump', expect: n })) as { acked: number[] };
    const s = [...acked].sort((a, b) => a - b);
    return { p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1)! };
  };
  const latency: PushLatency[] = [];
  let initialPushBytes = 0;
  const timing = await startServer(services, namespaces);
  try {
    await measure(timing, 'latency: no proxy', 0);
    for (const n of opts.proxyCounts ?? [100, 1000]) {
      const t0 = performance.now();
      const proxies = connectProxies(timing.port, n, namespaces);
      try {
        await proxies.synced;
        const syncMs = performance.now() - t0;
        initialPushBytes = Math.max(initialPushBytes, proxies.firstPushBytes);
        const per: { p50: number; p99: number; max: number }[] = [];
        for (let r = 0; r < rounds; r++) per.push(await change(timing, n));
        latency.push({ proxies: n, p50Ms: median(per.map((x) => x.p50)), p99Ms: median(per.map((x) => x.p99)), maxMs: median(per.map((x) => x.max)), pushBytes: proxies.lastPushBytes, reconnects: proxies.reconnects, syncMs: Math.round(syncMs) });
        await measure(timing, `latency: ${n} proxies after ${rounds} changes`, n);
      } finally {
        proxies.close();
      }
    }
  } finally {
    timing.stop();
  }
  // Memory in a control plane of its own: what it holds for these Services and proxies, not what earlier phases left.
  const server = await startServer(services, namespaces);
  try {
    const idle = await measure(server, 'no proxy', 0);
    const many = connectProxies(server.port, memoryProxies, namespaces);
    try {
      await many.synced;
      initialPushBytes = Math.max(initialPushBytes, many.firstPushBytes);
      const synced = await measure(server, `${memoryProxies} proxies synced`, memoryProxies);
      await change(server, memoryProxies);
      const changed = await measure(server, `${memoryProxies} proxies after a change`, memoryProxies);
      const worst = changed.rssMb > synced.rssMb ? changed : synced;
      return {
        services,
        namespaces,
        latency,
        cpRssMb: Math.round(worst.rssMb),
        cpHeapMb: Math.round(worst.heapMb),
        cpExternalMb: Math.round(worst.externalMb),
        memoryProxies,
        cpRssNoProxiesMb: Math.round(idle.rssMb),
        initialPushBytes,
        memory,
      };
    } finally {
      many.close();
    }
  } finally {
    server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv[2] === '--serve') await serve(Number(process.argv[3]), Number(process.argv[4]));
  else {
    const { values } = parseArgs({
      options: { services: { type: 'string' }, namespaces: { type: 'string' }, proxies: { type: 'string' }, 'memory-proxies': { type: 'string' }, rounds: { type: 'string' } },
    });
    const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
    const result = await measureConfigPush({
      services: num(values.services),
      namespaces: num(values.namespaces),
      proxyCounts: values.proxies?.split(',').filter((x) => x !== '').map(Number),
      memoryProxies: num(values['memory-proxies']),
      rounds: num(values.rounds),
    });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.exit(0);
  }
}
