// The config-discovery gRPC service: one stream per proxy, debounced pushes of only what changed, ACK/NACK tracking,
// and a stream that stops taking bytes (or answering) is cut rather than waited on.
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import {
  loadConfigDiscovery,
  MAX_PROXY_MESSAGE_BYTES,
  type Hello,
  type NackReason,
  type ProxyMessage,
  type Push,
} from '../../api/proto/config-discovery.ts';
import { shutdownGrpcServer } from './shutdown-grpc-server.ts';
import { ControlPlaneError } from '../control-plane-error.ts';
import { Debouncer } from './debouncer.ts';
import { IdleReclaimer } from './idle-reclaimer.ts';
import { ProxyState, type ProxyStatusView } from './proxy-state.ts';
import { resourceDelta } from './resource-diff.ts';
import type { ProxyIdentity, ProxySnapshot, SnapshotSource } from './snapshot-source.ts';

export type ServingLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface ConfigServerOptions {
  readonly source: SnapshotSource;
  /** Name of this replica (pod name), shown per proxy in proxy-status. */
  readonly replica?: string;
  /** A burst of changes is pushed this long after its last change... */
  readonly debounceQuietMs?: number;
  /** ...and never later than this after its first. */
  readonly debounceMaxMs?: number;
  /**
   * A push not answered (ACK or NACK) within this long: the stream is cut and the proxy reconnects for a delta. This is
   * the slow-stream rule: grpc-js hands a message to HTTP/2 at once whether or not the peer reads, so the only honest
   * signal that a proxy is not keeping up is that it does not answer. Nobody else waits meanwhile: at most one push per
   * proxy is in flight, later changes are folded into the next one.
   */
  readonly ackTimeoutMs?: number;
  /** A stream that sends no Hello within this long is refused. */
  readonly helloTimeoutMs?: number;
  /**
   * Bytes of pushes written to streams and not yet taken by HTTP/2, over every proxy. Past it, pushes wait in line (first
   * come, first written) for room. grpc-js copies each message it writes, and HTTP/2 holds that copy until the peer's
   * flow-control windows let it go: without a bound, 2000 proxies connecting at once would each hold a copy of the whole
   * config (GBs) at the same time. One push is always let through, however large; a stream that stops reading holds its
   * share until it is cut (ackTimeoutMs).
   */
  readonly maxBytesInFlight?: number;
  readonly log?: ServingLog;
  /**
   * A memory-reducing GC, asked for once serving has been quiet for 2 s after pushes (at most every 30 s): see
   * idle-reclaimer.ts. Absent: none.
   */
  readonly reclaimMemory?: () => void;
  /** Observers for metrics and benchmarks (must not throw; errors are swallowed). */
  readonly events?: {
    onPush?(proxyId: string, push: Push): void;
    onAck?(proxyId: string, version: string, latencyMs: number): void;
    onNack?(proxyId: string, version: string, latencyMs: number, reasons: readonly NackReason[]): void;
    onCut?(proxyId: string, code: string): void;
  };
}

interface Connection {
  readonly state: ProxyState;
  readonly call: grpc.ServerDuplexStream<unknown, unknown>;
  ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bytes of its last push that HTTP/2 has not taken yet (0 once taken), held against the write budget. */
  unflushed: { bytes: number };
}

/** The cache of encoded changes: at most this many entries, and this many bytes. */
const MAX_ENCODED_ENTRIES = 512;
const MAX_ENCODED_BYTES = 16 << 20;

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Checks the fields every later step relies on; a bad Hello is refused with every problem named. */
export function validateHello(h: Hello): { ok: true; identity: ProxyIdentity; known: Map<string, string> } | { ok: false; message: string } {
  const problems: string[] = [];
  if (!NAME_RE.test(h.podName ?? '')) problems.push('pod_name must be a Kubernetes name');
  if (!NAME_RE.test(h.podNamespace ?? '')) problems.push('pod_namespace must be a Kubernetes name');
  const known = new Map<string, string>();
  for (const [k, v] of Object.entries(h.knownVersions ?? {})) {
    if (k.length > 512 || typeof v !== 'string' || v.length > 128) {
      problems.push(`known_versions entry "${k.slice(0, 64)}" is too long`);
      break;
    }
    known.set(k, v);
  }
  const gateway = h.gateway ?? '';
  if (gateway !== '' && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(gateway)) problems.push('gateway must be "<namespace>/<name>" or empty');
  if (problems.length > 0) return { ok: false, message: problems.join('; ') };
  const id = h.proxyId || `${h.podName}.${h.podNamespace}`;
  return {
    ok: true,
    identity: { id, podName: h.podName, namespace: h.podNamespace, podIp: h.podIp ?? '', serviceAccount: h.serviceAccount || 'default', mode: h.mode || 'sidecar', gateway },
    known,
  };
}

export class ConfigServer {
  readonly #opts: Required<Omit<ConfigServerOptions, 'events' | 'log' | 'reclaimMemory'>> & Pick<ConfigServerOptions, 'events'> & { log: ServingLog };
  readonly #reclaimer: IdleReclaimer | null;
  readonly #connections = new Map<string, Connection>();
  readonly #debouncer: Debouncer<string>;
  #server: grpc.Server | null = null;
  #closing = false;
  /** Bytes of the pushes in flight (see maxBytesInFlight), and the proxies waiting for room, in order, with what they need. */
  #bytesInFlight = 0;
  readonly #waiting = new Map<Connection, { bytes: number; greeting: boolean }>();

  constructor(opts: ConfigServerOptions) {
    this.#opts = {
      replica: 'control-plane',
      debounceQuietMs: 100,
      debounceMaxMs: 1000,
      ackTimeoutMs: 10_000,
      helloTimeoutMs: 10_000,
      maxBytesInFlight: 8 << 20,
      log: () => {},
      ...opts,
    };
    this.#reclaimer = opts.reclaimMemory ? new IdleReclaimer({ reclaim: opts.reclaimMemory }) : null;
    this.#debouncer = new Debouncer({ quietMs: this.#opts.debounceQuietMs, maxDelayMs: this.#opts.debounceMaxMs }, (keys) => this.#flush(keys));
  }

  /** Translation calls this when inputs changed: only the named proxies (or all) are looked at, after the debounce. */
  changed(affected: Iterable<string> | 'all'): void {
    this.#debouncer.add(affected);
  }

  /** Every connected proxy's state (for the debug endpoint). */
  proxies(): ProxyStatusView[] {
    return [...this.#connections.values()].map((c) => c.state.view(this.#opts.replica)).sort((a, b) => a.id.localeCompare(b.id));
  }

  get connectedCount(): number {
    return this.#connections.size;
  }

  /** Registers the service on an existing server (the identity service shares the port). */
  addTo(server: grpc.Server): void {
    const { service } = loadConfigDiscovery();
    // Pushes are encoded once and written as bytes to every proxy that needs the same change (see #encodedPush).
    const method = service.Subscribe!;
    this.#serialize = method.responseSerialize as (m: Push) => Buffer;
    const passBytes = { ...service, Subscribe: { ...method, responseSerialize: (m: Push | Buffer) => (Buffer.isBuffer(m) ? m : this.#serialize!(m)) } };
    server.addService(passBytes, { subscribe: (call: grpc.ServerDuplexStream<unknown, unknown>) => this.#subscribe(call) });
  }

  #serialize: ((m: Push) => Buffer) | null = null;
  /** key -> resource versions of a snapshot, shared by every proxy that holds or is sent it (a map per proxy would not scale). */
  readonly #versions = new WeakMap<ProxySnapshot, ReadonlyMap<string, string>>();
  /** "<version held>><version sent>" -> that change encoded once (or 'none' when nothing changes), for every proxy making it. */
  readonly #encoded = new Map<string, { push: Push; bytes: Buffer | null } | 'none'>();
  #encodedBytes = 0;

  #versionsOf(snapshot: ProxySnapshot): ReadonlyMap<string, string> {
    let v = this.#versions.get(snapshot);
    if (v === undefined) {
      const m = new Map<string, string>();
      for (const [k, r] of snapshot.resources) m.set(k, r.version);
      this.#versions.set(snapshot, (v = m));
    }
    return v;
  }

  /**
   * The push that takes a proxy from what it holds to `snapshot`: computed and encoded once per (held version, new version)
   * when what it holds is exactly a known version (after an ACK, or nothing at all), else for this proxy alone.
   */
  #encodedPush(s: ProxyState, snapshot: ProxySnapshot): { push: Push; bytes: Buffer | null } | 'none' {
    const from = s.ackedExact ? s.ackedVersion : s.acked.size === 0 ? '-' : null;
    const key = from === null ? null : `${from}>${snapshot.version}`;
    const hit = key === null ? undefined : this.#encoded.get(key);
    if (hit !== undefined) return hit;
    const delta = resourceDelta(s.acked, snapshot);
    const push: Push = { nonce: randomBytes(8).toString('hex'), version: snapshot.version, resources: delta.changed, removed: delta.removed };
    const entry = delta.changed.length === 0 && delta.removed.length === 0 ? 'none' : { push, bytes: key === null || this.#serialize === null ? null : this.#serialize(push) };
    if (key !== null && (entry === 'none' || entry.bytes !== null)) {
      // Bounded in count and bytes (a first push is the whole config): the working set is one or two changes per scope,
      // and an entry evicted is only a cache miss away. Oldest first: a Map iterates in insertion order.
      const size = entry === 'none' ? 0 : entry.bytes!.length;
      for (const [k, old] of this.#encoded) {
        if (this.#encoded.size < MAX_ENCODED_ENTRIES && this.#encodedBytes + size <= MAX_ENCODED_BYTES) break;
        this.#encoded.delete(k);
        if (old !== 'none') this.#encodedBytes -= old.bytes!.length;
      }
      this.#encoded.set(key, entry);
      this.#encodedBytes += size;
    }
    return entry;
  }

  async listen(address: string, port: number, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_PROXY_MESSAGE_BYTES,
      // Channelz keeps tracking objects and a trace per connection and call, for a channelz service nobody here serves:
      // JS heap that grows with every connected proxy.
      'grpc.enable_channelz': 0,
      // Finds proxies that vanished without closing (node gone, netns deleted).
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    });
    this.addTo(server);
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${address.includes(':') ? `[${address}]` : address}:${port}`, credentials, (e, p) => (e ? reject(e) : resolve(p))),
    );
    this.#server = server;
    return bound;
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#debouncer.close();
    this.#reclaimer?.close();
    for (const c of [...this.#connections.values()]) this.#cut(c, grpc.status.UNAVAILABLE, new ControlPlaneError('SKEIN_ERR_CP_SHUTTING_DOWN', 'control plane shutting down'));
    const server = this.#server;
    if (!server) return;
    await shutdownGrpcServer(server);
  }

  #subscribe(call: grpc.ServerDuplexStream<unknown, unknown>): void {
    if (this.#closing) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'control plane shutting down' });
      return;
    }
    let conn: Connection | null = null;
    const helloTimer = setTimeout(() => {
      if (!conn) call.emit('error', { code: grpc.status.DEADLINE_EXCEEDED, details: 'SKEIN_ERR_CP_NO_HELLO: no Hello within the timeout' });
    }, this.#opts.helloTimeoutMs);
    call.on('data', (raw: unknown) => {
      const msg = raw as ProxyMessage;
      if (!conn) {
        clearTimeout(helloTimer);
        if (msg.kind !== 'hello') {
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'SKEIN_ERR_CP_NO_HELLO: the first message must be a Hello' });
          return;
        }
        const v = validateHello(msg.hello);
        if (!v.ok) {
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: `SKEIN_ERR_CP_BAD_HELLO: ${v.message}` });
          return;
        }
        const previous = this.#connections.get(v.identity.id);
        // A proxy that reconnects before its old stream was noticed dead: the new stream wins.
        if (previous) this.#cut(previous, grpc.status.ABORTED, new ControlPlaneError('SKEIN_ERR_CP_UNKNOWN_PROXY', 'replaced by a newer stream of the same proxy'));
        conn = { state: new ProxyState(v.identity, v.known, Date.now()), call, ackTimer: undefined, unflushed: { bytes: 0 } };
        this.#connections.set(v.identity.id, conn);
        this.#opts.log('info', 'proxy connected', { proxy: v.identity.id, known: v.known.size });
        // Always answered, even when the proxy already holds everything: the first push tells it that it was heard.
        this.#pushTo(conn, true);
        return;
      }
      conn.state.lastContactAt = Date.now();
      if (msg.kind === 'ack') this.#onAck(conn, msg.ack.nonce);
      else if (msg.kind === 'nack') this.#onNack(conn, msg.nack.nonce, msg.nack.reasons ?? []);
    });
    const gone = (): void => {
      clearTimeout(helloTimer);
      if (conn) this.#forget(conn);
    };
    call.on('end', () => {
      gone();
      call.end();
    });
    call.on('cancelled', gone);
    call.on('error', gone);
    call.on('close', gone);
  }

  #flush(keys: ReadonlySet<string> | 'all'): void {
    if (keys === 'all') for (const c of this.#connections.values()) this.#pushTo(c);
    else for (const k of keys) {
      const c = this.#connections.get(k);
      if (c) this.#pushTo(c);
    }
  }

  /**
   * Sends the proxy what it lacks, unless a push is in flight (then once it is answered). `greeting`: the answer to a Hello,
   * sent even when empty (a proxy that hears nothing after its Hello gives up on this stream and dials again).
   */
  #pushTo(conn: Connection, greeting = false, fromLine = false): void {
    const s = conn.state;
    if (s.closed) return;
    if (s.inFlight) {
      s.dirty = true;
      return;
    }
    const waiting = this.#waiting.get(conn);
    if (waiting !== undefined && !fromLine) {
      // Already in line: its turn computes what it lacks then.
      waiting.greeting ||= greeting;
      return;
    }
    s.dirty = false;
    const snap = this.#opts.source.snapshotFor(s.identity);
    if (!snap.ok) {
      this.#opts.log('error', 'cannot build config for proxy (it keeps its last config)', { proxy: s.identity.id, error: snap.error.message });
      return;
    }
    const snapshot = snap.value;
    s.latestVersion = snapshot.version;
    // The proxy rejected exactly this set already: sending it again would only be rejected again.
    if (s.nackedVersion === snapshot.version) return;
    let change = this.#encodedPush(s, snapshot);
    if (change === 'none') {
      if (!greeting) {
        s.ackedVersion = snapshot.version;
        return;
      }
      change = { push: { nonce: randomBytes(8).toString('hex'), version: snapshot.version, resources: [], removed: [] }, bytes: null };
    }
    const { push, bytes } = change;
    const size = bytes?.length ?? push.resources.reduce((n, r) => n + r.body.length, 0);
    if (!fromLine && this.#bytesInFlight > 0 && (this.#waiting.size > 0 || this.#bytesInFlight + size > this.#opts.maxBytesInFlight)) {
      this.#waiting.set(conn, { bytes: size, greeting });
      s.queued = true;
      return;
    }
    // A nonce may be shared by the proxies sent the same encoded change: it only has to tell this stream's pushes apart.
    const nonce = push.nonce;
    s.inFlight = { nonce, version: snapshot.version, versions: this.#versionsOf(snapshot), sentAt: Date.now() };
    s.pushes++;
    safe(() => this.#opts.events?.onPush?.(s.identity.id, push));
    conn.ackTimer = setTimeout(
      () => this.#cut(conn, grpc.status.DEADLINE_EXCEEDED, new ControlPlaneError('SKEIN_ERR_CP_ACK_TIMEOUT', `the proxy did not take or answer a push within ${this.#opts.ackTimeoutMs} ms`)),
      this.#opts.ackTimeoutMs,
    );
    // Never awaited: the ACK timer is what watches this proxy. The callback comes once HTTP/2 has taken the bytes (the
    // peer's flow-control windows let them go): then grpc-js's copy is gone and the budget gets them back.
    const held = { bytes: size };
    this.#bytesInFlight += size;
    conn.unflushed = held;
    conn.call.write(bytes ?? push, () => this.#release(held));
    this.#reclaimer?.activity();
  }

  #onAck(conn: Connection, nonce: string): void {
    const s = conn.state;
    const f = s.inFlight;
    if (!f || f.nonce !== nonce) return; // an answer to a push that was superseded or never sent
    clearTimeout(conn.ackTimer);
    s.inFlight = null;
    s.acked = f.versions;
    s.ackedVersion = f.version;
    s.ackedExact = true;
    s.nackedVersion = '';
    s.nackReasons = [];
    s.acks++;
    safe(() => this.#opts.events?.onAck?.(s.identity.id, f.version, Date.now() - f.sentAt));
    if (s.dirty) this.#pushTo(conn);
  }

  #onNack(conn: Connection, nonce: string, reasons: ProxyMessageReasons): void {
    const s = conn.state;
    const f = s.inFlight;
    if (!f || f.nonce !== nonce) return;
    clearTimeout(conn.ackTimer);
    s.inFlight = null;
    s.nackedVersion = f.version;
    s.nackReasons = reasons.slice(0, 100).map((r) => ({ type: r.type ?? '', name: r.name ?? '', path: r.path ?? '', message: (r.message ?? '').slice(0, 1000) }));
    s.nacks++;
    this.#opts.log('warn', 'proxy rejected config (it keeps its last good config)', { proxy: s.identity.id, version: f.version, reasons: s.nackReasons.map((r) => `${r.type}/${r.name}: ${r.message}`).join('; ') });
    safe(() => this.#opts.events?.onNack?.(s.identity.id, f.version, Date.now() - f.sentAt, s.nackReasons));
    if (s.dirty) this.#pushTo(conn);
  }

  #cut(conn: Connection, code: grpc.status, error: ControlPlaneError): void {
    if (conn.state.closed) return;
    this.#opts.log('warn', 'cutting proxy stream', { proxy: conn.state.identity.id, code: error.code, reason: error.message });
    safe(() => this.#opts.events?.onCut?.(conn.state.identity.id, error.code));
    this.#forget(conn);
    // Ends with a status once queued bytes drain; nothing here waits for it.
    conn.call.emit('error', { code, details: `${error.code}: ${error.message}` });
  }

  #forget(conn: Connection): void {
    const s = conn.state;
    if (s.closed) return;
    s.closed = true;
    clearTimeout(conn.ackTimer);
    if (this.#connections.get(s.identity.id) === conn) this.#connections.delete(s.identity.id);
    this.#waiting.delete(conn);
    this.#release(conn.unflushed);
  }

  /** A push taken by HTTP/2 (or abandoned with its stream) frees its bytes; proxies in line are written while there is room. */
  #release(held: { bytes: number }): void {
    if (held.bytes === 0) return;
    this.#bytesInFlight -= held.bytes;
    held.bytes = 0;
    if (this.#closing) return;
    this.#reclaimer?.activity();
    for (const [conn, next] of this.#waiting) {
      if (this.#bytesInFlight > 0 && this.#bytesInFlight + next.bytes > this.#opts.maxBytesInFlight) break;
      this.#waiting.delete(conn);
      conn.state.queued = false;
      this.#pushTo(conn, next.greeting, true);
    }
  }
}

type ProxyMessageReasons = readonly { type?: string; name?: string; path?: string; message?: string }[];

function safe(f: () => void): void {
  try {
    f();
  } catch {
    // Observers (metrics, benchmarks) must never break serving.
  }
}
