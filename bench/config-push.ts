// Benchmark hook: how fast a TrafficPolicy change reaches every connected proxy, and what the control plane holds in memory.
//
// The control plane half (bench/config-push-serve.ts) is its own process (so that its RSS is its own), started as
// `skein control-plane` runs in a pod: with its V8 flags and environment (bin/process-settings.mjs), from a plain-JS copy of
// its modules (--sources: from the TypeScript sources). It runs the real MeshTranslator and ConfigServer (default
// debounce), fed synthetic inputs: `services` Services over `namespaces` namespaces, each with a ClusterIP port and an
// EndpointSlice of 3 ready endpoints, and one TrafficPolicy on the first Service. The proxy half, in this process, opens N
// lightweight simulated proxies: each a real Subscribe stream over its own HTTP/2 connection (a bare node:http2 session
// speaking gRPC's framing, see connectProxies), sending a Hello and ACKing every
// push at once without applying it (a real proxy's apply runs on its own CPU, not the control plane's). They read each push's
// framing (nonce, version, resource keys and versions) and skip the bodies, so that 2000 of them fit beside the control plane
// on a small machine without their decoding stealing its CPU.
//   push_p99_ms_N: the TrafficPolicy is changed; for each proxy, the time from the change to its ACK reaching the control plane
//     (debounce included); p50/p99/max over the proxies, median over `rounds` changes.
//   cp_rss_mb: the RSS of a fresh control plane (not the one that served the latency rounds) after full GCs and the
//     control plane's own memory-reducing GC (config-push-serve.ts readMemory) with `services` Services and `memoryProxies`
//     proxies connected and synced, and again after one change pushed to all of them (the larger of the two). CONFIG_PUSH_HEAP_SNAPSHOTS=<dir>
//     writes a heap snapshot of the control plane at each memory reading.
// Run directly: `node bench/config-push.ts [--services 1000] [--namespaces 10] [--proxies 100,1000] [--memory-proxies 2000]
// [--rounds 5] [--sources]` (`--proxies ''`: memory only).
import { spawn, type ChildProcess } from 'node:child_process';
import * as http2 from 'node:http2';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfigDiscovery } from '../api/proto/config-discovery.ts';
import { buildJsGraph, REPO_ROOT } from '../scripts/build-js.ts';
import type { ServerCommand, ServerReply, Usage } from './config-push-serve.ts';

export interface ConfigPushOptions {
  readonly services?: number;
  readonly namespaces?: number;
  /** Proxy counts for which the push latency is measured. */
  readonly proxyCounts?: readonly number[];
  readonly rounds?: number;
  /** Proxies connected when the control plane's memory is read. */
  readonly memoryProxies?: number;
  /** Run the control-plane half from the TypeScript sources rather than a plain-JS copy (to compare; not how it ships). */
  readonly fromSources?: boolean;
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
  /** Resident pages of the JS heap. */
  readonly v8PhysicalMb: number;
  /** Memory V8 itself took from malloc (compiler zones and the like). */
  readonly v8MallocMb: number;
  /** RSS of glibc's main malloc heap (native allocations of the main thread, and what malloc keeps after frees). */
  readonly mallocHeapMb: number;
  /** RSS of anonymous mappings (V8's heap, large Buffers, other threads' malloc arenas). */
  readonly anonMb: number;
  /** RSS of file mappings (the node binary and libraries). */
  readonly fileMb: number;
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

// ---------------------------------------------------------------- proxy half

interface ServerHandle {
  readonly port: number;
  send(c: ServerCommand): Promise<ServerReply>;
  /** Rejects if the control plane half exits before stop(): what waits on it (proxies syncing) must not wait forever. */
  readonly exited: Promise<never>;
  stop(): void;
}

async function startServer(services: number, namespaces: number, fromSources: boolean): Promise<ServerHandle> {
  // Set up as `skein control-plane` runs in a pod: its V8 flags and environment (bin/process-settings.mjs), and from a
  // plain-JS copy of its modules (no TypeScript stripper in the process).
  const settings = (await import(new URL('../bin/process-settings.mjs', import.meta.url).href)) as { V8_FLAGS: Record<string, string[]>; ENV: Record<string, Record<string, string>> };
  const entry = 'bench/config-push-serve.ts';
  const script = fromSources ? join(REPO_ROOT, entry) : join(buildJsGraph([entry]), entry.replace(/\.ts$/, '.js'));
  const child: ChildProcess = spawn(process.execPath, [...settings.V8_FLAGS['control-plane']!, '--expose-gc', script, String(services), String(namespaces)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...settings.ENV['control-plane'], ...process.env },
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting: { resolve: (r: ServerReply) => void; reject: (e: Error) => void }[] = [];
  lines.on('line', (l) => waiting.shift()?.resolve(JSON.parse(l) as ServerReply));
  let stopping = false;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => {
      const e = new Error(`control plane half exited (${code ?? signal})`);
      for (const w of waiting.splice(0)) w.reject(e);
      if (!stopping) reject(e);
    }),
  );
  exited.catch(() => {});
  const next = (): Promise<ServerReply> => new Promise((resolve, reject) => void waiting.push({ resolve, reject }));
  const first = (await next()) as { port: number };
  return {
    port: first.port,
    send: (c) => {
      const r = next();
      const t = performance.now();
      process.stderr.write(`config-push: ${JSON.stringify(c)}\n`);
      void r.then(() => process.stderr.write(`config-push: ${c.cmd} answered in ${Math.round(performance.now() - t)} ms\n`), () => {});
      child.stdin!.write(`${JSON.stringify(c)}\n`);
      return r;
    },
    exited,
    stop: () => {
      stopping = true;
      child.stdin!.end();
    },
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

/**
 * gRPC over a bare node:http2 session: one per simulated proxy. A grpc-js channel per proxy cost this process ~1.3 MB each
 * (2.6 GB for 2000) and enough CPU that, on a loaded machine, the proxies fell behind on flow control (they must read
 * every push to open their windows): the control plane then waited on them, not the other way round. The control plane
 * sees the same thing either way: an HTTP/2 connection with one Subscribe stream, 64 KiB windows (grpc-js's default),
 * length-prefixed messages.
 */
function connectProxies(port: number, count: number, namespaces: number): SimulatedProxies {
  const { service } = loadConfigDiscovery();
  const serialize = service.Subscribe!.requestSerialize as (m: unknown) => Buffer;
  const frame = (m: unknown): Buffer => {
    const body = serialize(m);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length, 1);
    return Buffer.concat([head, body]);
  };
  const sessions = new Set<http2.ClientHttp2Session>();
  let first = 0;
  let closed = false;
  let resolveSynced!: () => void;
  const out: SimulatedProxies = { synced: new Promise((r) => (resolveSynced = r)), lastPushBytes: 0, firstPushBytes: 0, reconnects: 0, close: () => {} };
  // A run on a loaded machine can take minutes to sync: say how far it got.
  const t0 = performance.now();
  const progress = setInterval(() => process.stderr.write(`config-push: ${first}/${count} proxies synced after ${Math.round((performance.now() - t0) / 1000)} s (${out.reconnects} reconnects)\n`), 30_000);
  void out.synced.then(() => clearInterval(progress));
  for (let i = 0; i < count; i++) {
    // What the proxy holds (versions only: the bodies are not applied), so that a reconnect asks for the difference.
    const known = new Map<string, string>();
    let seen = false;
    const subscribe = (): void => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      sessions.add(session);
      let again = false;
      const reconnect = (): void => {
        sessions.delete(session);
        session.destroy();
        // Cut (an ACK that came too late under load): back soon, as a real proxy would after its backoff.
        if (closed || again) return;
        again = true;
        out.reconnects++;
        setTimeout(subscribe, 50);
      };
      session.on('error', reconnect);
      session.on('close', reconnect);
      const stream = session.request({ ':method': 'POST', ':path': '/skein.discovery.v1.ConfigDiscovery/Subscribe', 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('error', reconnect);
      stream.on('close', reconnect);
      // The control plane ended the stream (its trailers carry the status: an ACK timeout under load, a Hello that came
      // late): our side is still open, so 'close' would never come. A real proxy's gRPC client sees the status and redials.
      stream.on('end', reconnect);
      // Length-prefixed messages, reassembled from DATA chunks (joined once a message is whole, not per chunk).
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let need = -1;
      const onMessage = (msg: Buffer): void => {
        const p = decodePushFrame(msg);
        const bytes = p.resources.reduce((n, r) => n + r.bodyBytes, 0);
        out.lastPushBytes = bytes;
        for (const r of p.resources) known.set(r.key, r.version);
        for (const k of p.removed) known.delete(k);
        stream.write(frame({ ack: { nonce: p.nonce, version: p.version } }));
        if (!seen) {
          seen = true;
          out.firstPushBytes = Math.max(out.firstPushBytes, bytes);
          if (++first === count) resolveSynced();
        }
      };
      stream.on('data', (chunk: Buffer) => {
        pending.push(chunk);
        pendingBytes += chunk.length;
        for (;;) {
          if (need < 0) {
            if (pendingBytes < 5) return;
            if (pending[0]!.length < 5) pending = [Buffer.concat(pending)];
            need = 5 + pending[0]!.readUInt32BE(1);
          }
          if (pendingBytes < need) return;
          const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
          onMessage(all.subarray(5, need));
          const rest = all.subarray(need);
          pending = rest.length > 0 ? [rest] : [];
          pendingBytes = rest.length;
          need = -1;
        }
      });
      stream.write(frame({ hello: { proxyId: '', podName: `proxy-${i}`, podNamespace: `ns-${i % namespaces}`, podIp: `10.244.${i >> 8}.${i & 255}`, serviceAccount: 'default', token: '', mode: 'sidecar', proxyVersion: 'bench', knownVersions: Object.fromEntries(known) } }));
    };
    subscribe();
  }
  out.close = () => {
    clearInterval(progress);
    closed = true;
    for (const s of sessions) s.destroy();
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
    const m: MemoryPhase = { phase, proxies, rssMb: round1(u.rssMb), heapMb: round1(u.heapMb), heapTotalMb: round1(u.heapTotalMb), externalMb: round1(u.externalMb), arrayBuffersMb: round1(u.arrayBuffersMb), v8PhysicalMb: round1(u.v8PhysicalMb), v8MallocMb: round1(u.v8MallocMb), mallocHeapMb: round1(u.mallocHeapMb), anonMb: round1(u.anonMb), fileMb: round1(u.fileMb) };
    memory.push(m);
    process.stderr.write(`config-push: ${JSON.stringify(m)}\n`);
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
  const timing = await startServer(services, namespaces, opts.fromSources ?? false);
  try {
    await measure(timing, 'latency: no proxy', 0);
    for (const n of opts.proxyCounts ?? [100, 1000]) {
      const t0 = performance.now();
      const proxies = connectProxies(timing.port, n, namespaces);
      try {
        await Promise.race([proxies.synced, timing.exited]);
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
  const server = await startServer(services, namespaces, opts.fromSources ?? false);
  try {
    const idle = await measure(server, 'no proxy', 0);
    const many = connectProxies(server.port, memoryProxies, namespaces);
    try {
      await Promise.race([many.synced, server.exited]);
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
  const { values } = parseArgs({
    options: { services: { type: 'string' }, namespaces: { type: 'string' }, proxies: { type: 'string' }, 'memory-proxies': { type: 'string' }, rounds: { type: 'string' }, sources: { type: 'boolean' } },
  });
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const result = await measureConfigPush({
    services: num(values.services),
    namespaces: num(values.namespaces),
    proxyCounts: values.proxies?.split(',').filter((x) => x !== '').map(Number),
    memoryProxies: num(values['memory-proxies']),
    rounds: num(values.rounds),
    fromSources: values.sources,
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
}
