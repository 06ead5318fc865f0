// The control-plane half of bench/config-push.ts, in a process of its own so that its RSS is its own: the real
// MeshTranslator and ConfigServer fed synthetic Services, driven by JSON lines on stdin (see ServerCommand). The bench runs
// it from a plain-JS copy of its module graph (scripts/build-js.ts buildJsGraph), as `skein control-plane` runs in a pod:
// loading a single .ts file would start Node's TypeScript stripper, ~17 MB that the measured process must not carry.
// `node bench/config-push-serve.ts <services> <namespaces>` runs it from the sources.
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { ConfigServer } from '../control-plane/serving/config-server.ts';
import { exposedGcReclaim } from '../control-plane/serving/idle-reclaimer.ts';
import { MeshTranslator } from '../control-plane/translation/mesh-translator.ts';

/** A line the bench sends on stdin. */
export type ServerCommand = { cmd: 'bump'; expect: number } | { cmd: 'rss'; phase: string };
/** The process's memory, in MB. */
export type Usage = { rssMb: number; heapMb: number; heapTotalMb: number; externalMb: number; arrayBuffersMb: number; v8PhysicalMb: number; v8MallocMb: number; mallocHeapMb: number; anonMb: number; fileMb: number };
/** A line it answers on stdout: its port once listening, the ACK times of a change, or a memory reading. */
export type ServerReply = { port: number } | { acked: number[] } | Usage;

async function serve(services: number, namespaces: number): Promise<void> {
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
  let pushes = 0;
  let giveUp: ReturnType<typeof setTimeout> | undefined;
  const ackedBy = new Set<string>();
  const reply = (r: ServerReply): void => void process.stdout.write(`${JSON.stringify(r)}\n`);
  const server = new ConfigServer({
    source: translator,
    // As `skein control-plane` sets it up (it runs with --expose-gc, bin/process-settings.mjs); how long each takes, on stderr.
    reclaimMemory: ((reclaim) =>
      reclaim === undefined
        ? undefined
        : () => {
            const t = performance.now();
            reclaim();
            process.stderr.write(`config-push control plane: idle reclaim GC took ${Math.round(performance.now() - t)} ms\n`);
          })(exposedGcReclaim()),
    // Problems only (what a proxy would not get), on stderr: the bench's output is stdout.
    log: (level, msg, fields) => {
      if (level !== 'info' && !msg.startsWith('cutting')) process.stderr.write(`config-push control plane: ${level} ${msg} ${JSON.stringify(fields ?? {})}\n`);
    },
    events: {
      onPush: () => void pushes++,
      onAck: (proxyId) => {
        if (expectAcks === 0 || ackedBy.has(proxyId)) return;
        ackedBy.add(proxyId);
        acked.push(performance.now() - bumpedAt);
        if (acked.length === expectAcks) {
          expectAcks = 0;
          clearTimeout(giveUp);
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
      pushes = 0;
      // Bounded: a change not ACKed by every proxy within 2 minutes is reported as it stands, with what the server sees.
      giveUp = setTimeout(() => {
        if (expectAcks === 0) return;
        const seen = new Map<string, number>();
        for (const p of server.proxies()) seen.set(p.status, (seen.get(p.status) ?? 0) + 1);
        process.stderr.write(`config-push control plane: ${acked.length}/${expectAcks} ACKs after 120 s; ${pushes} pushes sent; ${server.connectedCount} connected; ${JSON.stringify(Object.fromEntries(seen))}\n`);
        expectAcks = 0;
        reply({ acked });
      }, 120_000);
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
  // Then what the control plane does itself once quiet after a burst (IdleReclaimer: 2 s after its last push, at most every
  // 30 s), done here so that every reading sees it, not only those that come late enough: one memory-reducing GC.
  // Regular GCs free the objects, not the pages V8 emptied (300 proxies just synced: 196 MB RSS, then 118 MB).
  exposedGcReclaim()?.();
  // Read once the RSS stopped falling for 2 s (freed memory goes back a little later), at most 30 s after.
  let low = process.memoryUsage.rss();
  let lowAt = performance.now();
  const started = lowAt;
  while (performance.now() - lowAt < 2000 && performance.now() - started < 30_000) {
    await new Promise((r) => setTimeout(r, 250));
    const rss = process.memoryUsage.rss();
    if (rss < low - (1 << 20)) {
      low = rss;
      lowAt = performance.now();
    }
  }
  const m = process.memoryUsage();
  // The JS heap's resident pages (heapTotal is what is committed), and what V8 itself holds from malloc (compiler zones).
  const v8 = getHeapStatistics();
  const mb = (n: number): number => n / 2 ** 20;
  // For finding what holds memory: a heap snapshot per phase (open in Chrome DevTools, Memory tab).
  const dir = process.env.CONFIG_PUSH_HEAP_SNAPSHOTS;
  if (dir) writeHeapSnapshot(`${dir}/config-push-${phase.replace(/[^a-z0-9]+/gi, '-')}.heapsnapshot`);
  // `external` already includes `arrayBuffers` (Node's definition): they are reported apart, never added.
  return { rssMb: mb(m.rss), heapMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers), v8PhysicalMb: mb(v8.total_physical_size), v8MallocMb: mb(v8.malloced_memory), ...(await rssByMapping()) };
}

/**
 * The RSS by kind of mapping (Linux): glibc's main malloc heap (`[heap]`: what C++ and C code allocated on the main thread,
 * nghttp2's sessions among it, and what malloc keeps after a free), anonymous mappings (V8's heap pages, Buffers over
 * malloc's mmap threshold, other threads' malloc arenas) and file mappings (the node binary, libraries).
 */
async function rssByMapping(): Promise<{ mallocHeapMb: number; anonMb: number; fileMb: number }> {
  const out = { mallocHeapMb: 0, anonMb: 0, fileMb: 0 };
  let text: string;
  try {
    text = await readFile('/proc/self/smaps', 'utf8');
  } catch {
    return out;
  }
  let kind: keyof typeof out = 'anonMb';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1]!;
      kind = name === '[heap]' ? 'mallocHeapMb' : name === '' || name.startsWith('[anon') ? 'anonMb' : name.startsWith('/') ? 'fileMb' : 'anonMb';
    } else if (line.startsWith('Rss:')) out[kind] += Number(line.slice(4).trim().split(' ')[0]) / 1024;
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await serve(Number(process.argv[2]), Number(process.argv[3]));
