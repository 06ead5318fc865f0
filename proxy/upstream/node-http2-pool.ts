// HTTP/2 connections to one endpoint on node:http2 (the SKEIN_HTTP2_CLIENT=node fallback): streams multiplexed on a session, another session opened when one is full.
import http2 from 'node:http2';
import { connect, PLAIN, type Transport } from './connector.ts';

export interface NodeHttp2PoolOptions {
  readonly host: string;
  readonly port: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly streamWindowBytes: number;
  readonly connectionWindowBytes: number;
  readonly maxSessions: number;
  /** Default plain TCP (h2c prior knowledge). */
  readonly transport?: Transport;
}

interface PooledSession {
  readonly session: http2.ClientHttp2Session;
  active: number;
  connected: boolean;
}

export class NodeHttp2Pool {
  readonly #opts: NodeHttp2PoolOptions;
  readonly #sessions: PooledSession[] = [];
  readonly #authority: string;
  #retiring = false;

  constructor(opts: NodeHttp2PoolOptions) {
    this.#opts = opts;
    this.#authority = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  }

  #open(): PooledSession {
    const { host, port, connectTimeoutMs } = this.#opts;
    const session = http2.connect(this.#authority, {
      settings: { initialWindowSize: this.#opts.streamWindowBytes, enablePush: false },
      createConnection: () => connect({ address: host, port }, this.#opts.transport ?? PLAIN, connectTimeoutMs),
    });
    const pooled: PooledSession = { session, active: 0, connected: false };
    session.once('connect', () => {
      pooled.connected = true;
      try {
        session.setLocalWindowSize(this.#opts.connectionWindowBytes);
      } catch {}
    });
    const remove = (): void => {
      const i = this.#sessions.indexOf(pooled);
      if (i >= 0) this.#sessions.splice(i, 1);
    };
    session.on('error', remove); // the error also reaches each stream; the session itself just leaves the pool
    session.once('goaway', remove);
    session.once('close', remove);
    session.setTimeout(this.#opts.idleTimeoutMs, () => {
      if (pooled.active === 0) session.close();
    });
    session.unref();
    this.#sessions.push(pooled);
    return pooled;
  }

  #pickSession(): PooledSession {
    for (const s of this.#sessions) {
      if (s.session.closed || s.session.destroyed) continue;
      const max = s.connected ? (s.session.remoteSettings.maxConcurrentStreams ?? 100) : 100;
      if (s.active < max) return s;
    }
    if (this.#sessions.length < this.#opts.maxSessions) return this.#open();
    // Every session is full: queue on the least busy one (nghttp2 queues the stream until a slot frees).
    let best = this.#sessions[0]!;
    for (const s of this.#sessions) if (s.active < best.active) best = s;
    return best;
  }

  request(headers: http2.OutgoingHttpHeaders, endStream: boolean): http2.ClientHttp2Stream {
    const pooled = this.#pickSession();
    const stream = pooled.session.request(headers, { endStream });
    pooled.active++;
    if (pooled.active === 1) pooled.session.ref();
    stream.once('close', () => {
      pooled.active--;
      if (pooled.active === 0 && !pooled.session.destroyed) {
        pooled.session.unref();
        if (this.#retiring) pooled.session.close();
      }
    });
    return stream;
  }

  get openConnections(): number {
    return this.#sessions.length;
  }

  /**
   * The endpoint left the config: each session closes once its streams are done. Not at once: a session still
   * connecting holds requests queued for its 'connect', and closing it would fail them (ERR_HTTP2_GOAWAY_SESSION).
   */
  retire(): void {
    this.#retiring = true;
    for (const s of this.#sessions) if (s.active === 0) s.session.close();
  }

  close(): void {
    for (const s of this.#sessions.splice(0)) s.session.close();
  }
}
