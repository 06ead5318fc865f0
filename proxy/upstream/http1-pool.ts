// HTTP/1.1 connections to one endpoint: raw keep-alive sockets (no http.Agent), a cap on open connections, idle eviction, connect timeout.
import { Http1ClientConnection, type ConnectionOwner } from '../http1/client-connection.ts';
import { connect, PLAIN, type Transport } from './connector.ts';

export interface Http1PoolOptions {
  readonly host: string;
  readonly port: number;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Default plain TCP. */
  readonly transport?: Transport;
}

export class Http1Pool implements ConnectionOwner {
  readonly #opts: Http1PoolOptions;
  readonly #all = new Set<Http1ClientConnection>();
  /** Most recently used last (LIFO reuse keeps few connections warm). */
  readonly #idle: Http1ClientConnection[] = [];
  /** Requests waiting for a connection while maxConnections are busy, oldest first. */
  readonly #waiting: ((conn: Http1ClientConnection) => void)[] = [];
  #closed = false;
  /** Retired (drain): no connection is kept for reuse, but a request still gets one. */
  #draining = false;
  /** One timer per pool (not per request) closes connections idle for longer than idleTimeoutMs. */
  #evictTimer: NodeJS.Timeout | null = null;

  constructor(opts: Http1PoolOptions) {
    this.#opts = opts;
  }

  /**
   * Calls `use` with a connection: an idle one (synchronously), a new one (still connecting: what is written waits
   * for the connect), or the next one released once maxConnections are busy. `use` must start an exchange or
   * hand the connection back with `release`.
   */
  acquire(use: (conn: Http1ClientConnection) => void): void {
    const idle = this.#idle;
    while (idle.length > 0) {
      const c = idle.pop()!;
      if (!c.socket.destroyed) return use(c);
    }
    if (this.#all.size < this.#opts.maxConnections || this.#closed) return use(this.#connect());
    this.#waiting.push(use);
  }

  #connect(): Http1ClientConnection {
    const { host, port, connectTimeoutMs } = this.#opts;
    const socket = connect({ address: host, port }, this.#opts.transport ?? PLAIN, connectTimeoutMs);
    const conn = new Http1ClientConnection(socket, this);
    this.#all.add(conn);
    if (this.#closed) socket.destroy();
    return conn;
  }

  release(conn: Http1ClientConnection): void {
    if (this.#closed || conn.socket.destroyed) {
      conn.socket.destroy();
      return;
    }
    const next = this.#waiting.shift();
    if (next !== undefined) return next(conn);
    if (this.#draining) {
      conn.socket.destroy();
      return;
    }
    conn.idleSince = Date.now();
    this.#idle.push(conn);
    if (this.#evictTimer === null) this.#scheduleEviction(this.#opts.idleTimeoutMs);
  }

  #scheduleEviction(ms: number): void {
    this.#evictTimer = setTimeout(() => {
      this.#evictTimer = null;
      const now = Date.now();
      const limit = this.#opts.idleTimeoutMs;
      // Oldest first: the list is in release order.
      while (this.#idle.length > 0 && now - this.#idle[0]!.idleSince >= limit) this.#idle.shift()!.socket.destroy();
      if (this.#idle.length > 0) this.#scheduleEviction(Math.max(1, limit - (now - this.#idle[0]!.idleSince)));
    }, ms);
    this.#evictTimer.unref();
  }

  removed(conn: Http1ClientConnection): void {
    if (!this.#all.delete(conn)) return;
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    // A slot freed up: the oldest waiting request gets a new connection.
    const next = this.#waiting.shift();
    if (next !== undefined) next(this.#connect());
  }

  get openConnections(): number {
    return this.#all.size;
  }

  /** Retires the pool gracefully: idle connections close now, busy ones after their exchange; nothing in flight is cut. */
  drain(): void {
    this.#draining = true;
    if (this.#evictTimer !== null) clearTimeout(this.#evictTimer);
    this.#evictTimer = null;
    for (const c of this.#idle.splice(0)) c.socket.destroy();
  }

  close(): void {
    this.#closed = true;
    if (this.#evictTimer !== null) clearTimeout(this.#evictTimer);
    for (const c of [...this.#all]) c.socket.destroy();
    this.#idle.length = 0;
  }
}
