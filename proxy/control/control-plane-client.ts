// The proxy's side of config discovery: subscribes with its identity, hands each push to the proxy's one apply entry
// point, answers ACK or NACK, reconnects with backoff and jitter, and keeps serving its last config while away.
import type * as grpcTypes from '@grpc/grpc-js';
import { createRequire } from 'node:module';
import { CONFIG_RESOURCE_TYPES } from '../../api/config/config-resources.ts';
import {
  loadConfigDiscovery,
  MAX_PUSH_BYTES,
  resourceKey,
  type Hello,
  type NackReason,
  type Push,
  type ResourceRef,
} from '../../api/proto/config-discovery.ts';
import type { ApplyChangeSet, ApplyOutcome, ResourceUpdate } from '../config/change-set.ts';
import { DEFAULT_BACKOFF, reconnectDelayMs, type BackoffOptions } from './reconnect-backoff.ts';

export type { ApplyChangeSet, ApplyOutcome, ChangeSet, ResourceUpdate } from '../config/change-set.ts';

/**
 * `pass-through`: no config from the control plane since start (the bootstrap config serves: traffic goes where it was headed).
 * `synced`: serving the control plane's config. `away`: lost the control plane after having config (the last config keeps serving).
 */
export type ControlState = 'pass-through' | 'synced' | 'away';

export interface ControlStatus {
  readonly state: ControlState;
  readonly address: string;
  readonly version: string;
  readonly lastError: string;
  readonly lastRejection: { readonly version: string; readonly reasons: readonly NackReason[] } | null;
  readonly reconnects: number;
  /**
   * Resources held by the control plane's account but ignored here, because their type is newer than this proxy (a control
   * plane upgraded before its proxies): how many, and their types.
   */
  readonly ignored: { readonly resources: number; readonly types: readonly string[] };
}

export interface ControlPlaneClientOptions {
  readonly address: string;
  readonly hello: Omit<Hello, 'knownVersions'>;
  readonly apply: ApplyChangeSet;
  readonly backoff?: BackoffOptions;
  readonly random?: () => number;
  readonly credentials?: grpcTypes.ChannelCredentials;
  readonly log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /**
   * How long a stream may go without the control plane's first push (it answers every Hello, even with nothing new) before
   * the proxy gives up on it and dials again on a fresh channel: a replica that went away mid-handshake, or an address that
   * resolves to a pod that is gone, must not hold the proxy unconnected. Default 15 s.
   */
  readonly greetingTimeoutMs?: number;
  /** Called on every state change (readiness details, metrics). */
  readonly onStatus?: (s: ControlStatus) => void;
  /** Called with the resources of unknown types a push carried (already logged; for the metric). */
  readonly onIgnored?: (resources: readonly ResourceRef[]) => void;
}

/** The resource types this proxy applies; a push's others are ignored (see ControlStatus.ignored). */
const KNOWN_TYPES: ReadonlySet<string> = new Set(CONFIG_RESOURCE_TYPES);

type Call = grpcTypes.ClientDuplexStream<unknown, unknown>;

export class ControlPlaneClient {
  readonly #opts: ControlPlaneClientOptions;
  readonly #grpc: typeof grpcTypes;
  #client: grpcTypes.Client | null = null;
  #call: Call | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #stopped = false;
  /** key -> version of what the proxy serves: sent in Hello so a reconnect gets only the difference. */
  #known = new Map<string, string>();
  /** Keys of the resources of unknown types that the control plane counts this proxy as holding. */
  readonly #ignored = new Set<string>();
  #status: ControlStatus;

  constructor(opts: ControlPlaneClientOptions) {
    this.#opts = opts;
    this.#grpc = createRequire(import.meta.url)('@grpc/grpc-js') as typeof grpcTypes;
    this.#status = { state: 'pass-through', address: opts.address, version: '', lastError: '', lastRejection: null, reconnects: 0, ignored: { resources: 0, types: [] } };
  }

  get status(): ControlStatus {
    return this.#status;
  }

  /** What /ready's details say about the control plane. */
  readinessDetail(): string {
    const s = this.#status;
    switch (s.state) {
      case 'pass-through':
        return `control plane ${s.address} not reached since start: serving pass-through${s.lastError ? ` (${s.lastError})` : ''}`;
      case 'away':
        return `control plane ${s.address} away: serving last config ${s.version}${s.lastError ? ` (${s.lastError})` : ''}`;
      case 'synced':
        return `control plane ${s.address}: config ${s.version}${s.ignored.resources > 0 ? ` (ignoring ${s.ignored.resources} resources of types this proxy does not know: ${s.ignored.types.join(', ')})` : ''}`;
    }
  }

  start(): void {
    this.#client = this.#newChannel();
    this.#connect();
  }

  /** A channel of its own: a new one resolves the address afresh and forgets grpc-js's backoff towards addresses now gone. */
  #newChannel(): grpcTypes.Client {
    const { Client } = loadConfigDiscovery();
    return new Client(this.#opts.address, this.#opts.credentials ?? this.#grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_PUSH_BYTES,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // Our own backoff (with jitter, visible in status) decides when to try again.
      'grpc.initial_reconnect_backoff_ms': 200,
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#greetingTimer);
    this.#call?.cancel();
    this.#call = null;
    this.#client?.close();
  }

  #setStatus(patch: Partial<ControlStatus>): void {
    this.#status = { ...this.#status, ...patch };
    try {
      this.#opts.onStatus?.(this.#status);
    } catch {
      // readiness/metrics observers never break config handling
    }
  }

  #greetingTimer: ReturnType<typeof setTimeout> | undefined;

  #connect(): void {
    if (this.#stopped || !this.#client) return;
    const call = (this.#client as unknown as { subscribe(): Call }).subscribe();
    this.#call = call;
    let ended = false;
    let heard = false;
    const end = (why: string): void => {
      if (ended) return;
      ended = true;
      clearTimeout(this.#greetingTimer);
      if (this.#call === call) this.#call = null;
      if (this.#stopped) return;
      if (!heard) {
        // Never answered on this channel: the next attempt dials on a new one.
        this.#client?.close();
        this.#client = this.#newChannel();
      }
      const state: ControlState = this.#status.version === '' ? 'pass-through' : 'away';
      this.#setStatus({ state, lastError: why, reconnects: this.#status.reconnects + 1 });
      const delay = reconnectDelayMs(this.#attempt++, this.#opts.random ?? Math.random, this.#opts.backoff ?? DEFAULT_BACKOFF);
      this.#opts.log?.('warn', 'control plane stream ended; reconnecting', { reason: why, inMs: delay, state });
      this.#timer = setTimeout(() => this.#connect(), delay);
    };
    clearTimeout(this.#greetingTimer);
    const greetingMs = this.#opts.greetingTimeoutMs ?? 15_000;
    this.#greetingTimer = setTimeout(() => {
      if (heard || ended) return;
      end(`no answer to the Hello within ${greetingMs} ms`);
      call.cancel();
    }, greetingMs);
    call.on('data', (push: unknown) => {
      heard = true;
      clearTimeout(this.#greetingTimer);
      // A stream that delivered config is healthy: the next loss starts the backoff from the bottom again.
      this.#attempt = 0;
      this.#onPush(call, push as Push);
    });
    call.on('error', (e: grpcTypes.ServiceError) => end(`${this.#grpc.status[e.code] ?? e.code}: ${e.details || e.message}`));
    call.on('end', () => end('stream closed by the control plane'));
    call.write({ hello: { ...this.#opts.hello, knownVersions: Object.fromEntries(this.#known) } });
  }

  /** Pushes are applied one after another (an apply may bind sockets, so it can take a moment). */
  #applying: Promise<void> = Promise.resolve();

  #onPush(call: Call, push: Push): void {
    this.#applying = this.#applying.then(() => this.#applyPush(call, push));
  }

  async #applyPush(call: Call, push: Push): Promise<void> {
    const reasons: NackReason[] = [];
    const upserts: ResourceUpdate[] = [];
    // Types newer than this proxy (a control plane upgraded first) are ignored, logged and ACKed, as Envoy does with
    // resources it has no use for: the rest of the push is still taken, and the proxy keeps serving. A NACK instead would
    // hold back every later change too, since the control plane cannot send the same set any other way.
    const unknown = push.resources.filter((r) => !KNOWN_TYPES.has(r.type));
    const removals = push.removed.filter((r) => KNOWN_TYPES.has(r.type));
    for (const r of push.resources) {
      if (!KNOWN_TYPES.has(r.type)) continue;
      try {
        upserts.push({ type: r.type, name: r.name, version: r.version, body: JSON.parse(Buffer.from(r.body).toString('utf8')) });
      } catch (e) {
        reasons.push({ type: r.type, name: r.name, path: '', message: `body is not JSON: ${(e as Error).message}` });
      }
    }
    let outcome: ApplyOutcome;
    if (reasons.length > 0) outcome = { ok: false, reasons };
    // The answer to a Hello when the proxy already holds everything: nothing to apply, only to acknowledge.
    else if (upserts.length === 0 && removals.length === 0 && this.#status.version !== '') outcome = { ok: true };
    else {
      try {
        outcome = await this.#opts.apply({ version: push.version, upserts, removals });
      } catch (e) {
        // The apply entry point must not throw; if it does, the change is refused, never half taken.
        outcome = { ok: false, reasons: [{ type: '', name: '', path: '', message: `apply failed: ${(e as Error).message}` }] };
      }
    }
    if (outcome.ok) {
      for (const r of push.removed) {
        this.#known.delete(resourceKey(r));
        this.#ignored.delete(resourceKey(r));
      }
      for (const r of upserts) this.#known.set(resourceKey(r), r.version);
      // Counted as held, so that a reconnect does not ask for them again (nor is told about them again).
      for (const r of unknown) {
        this.#known.set(resourceKey(r), r.version);
        this.#ignored.add(resourceKey(r));
      }
      if (unknown.length > 0) this.#reportIgnored(push.version, unknown);
      const ignored = { resources: this.#ignored.size, types: [...new Set([...this.#ignored].map((k) => k.slice(0, k.indexOf('/'))))].sort() };
      this.#setStatus(this.#call === call ? { state: 'synced', version: push.version, lastError: '', ignored } : { version: push.version, ignored });
    } else {
      this.#opts.log?.('warn', 'config push rejected (keeping the last good config)', { version: push.version, reasons: outcome.reasons.map((r) => `${r.type}/${r.name}: ${r.message}`).join('; ') });
      this.#setStatus({ lastRejection: { version: push.version, reasons: outcome.reasons } });
    }
    // The stream may have ended while the change applied: the next stream's Hello reports what is held.
    if (this.#call !== call) return;
    if (outcome.ok) call.write({ ack: { nonce: push.nonce, version: push.version } });
    else call.write({ nack: { nonce: push.nonce, version: push.version, reasons: outcome.reasons } });
  }

  #reportIgnored(version: string, unknown: readonly ResourceRef[]): void {
    const byType = new Map<string, number>();
    for (const r of unknown) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
    this.#opts.log?.('warn', 'ignoring config resources of types this proxy does not know (a newer control plane?)', {
      version,
      ignored: [...byType].map(([t, n]) => `${t.slice(0, 64)} x${n}`).join(', '),
      known: CONFIG_RESOURCE_TYPES.join(', '),
    });
    try {
      this.#opts.onIgnored?.(unknown);
    } catch {
      // metrics observers never break config handling
    }
  }
}
