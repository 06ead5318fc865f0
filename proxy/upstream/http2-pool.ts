// HTTP/2 connections to one endpoint on our own client codec: streams packed onto the first connection with room (as the
// server's SETTINGS allow), another connection opened when all are full, requests queued until one has room.
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { Http2ClientConnection, type ClientConnectionOwner, type Http2ClientOptions } from '../http2/client-connection.ts';
import { connect, PLAIN, type Transport } from './connector.ts';
import { ReadRegions } from './read-regions.ts';

export interface Http2PoolOptions {
  readonly host: string;
  readonly port: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly streamWindowBytes: number;
  readonly connectionWindowBytes: number;
  readonly maxConnections: number;
  /** Default plain TCP (h2c prior knowledge). */
  readonly transport?: Transport;
  /** PING after this long without a byte from the server (default 30 s). */
  readonly keepaliveMs?: number;
  /** Response header block limits (default 64 KiB and 100 fields, the sidecar listener's request limits). */
  readonly maxHeaderBytes?: number;
  readonly maxHeaderCount?: number;
  /** Unsent bytes on a connection before request bodies are pushed back (default 32 KiB). */
  readonly maxBufferedBytes?: number;
}

/** Told when a connection with a free stream slot is there for it (an object, not a closure: none per request). */
export interface Http2PoolWaiter {
  onConnection(conn: Http2ClientConnection): void;
  /** A connection it waited for failed before it could take streams (refused, TLS, not HTTP/2). */
  onConnectionError(e: Error): void;
}

const DEFAULT_KEEPALIVE_MS = 30_000;
/** After the connect timeout, how long the server may take to send its first SETTINGS. */
const HANDSHAKE_GRACE_MS = 2_000;

export class Http2Pool implements ClientConnectionOwner {
  readonly #opts: Http2PoolOptions;
  readonly #clientOptions: Http2ClientOptions;
  /** Connections that take new streams. */
  readonly #open: Http2ClientConnection[] = [];
  /** Connections finishing their streams after a GOAWAY (they still count toward nothing: they take no new work). */
  readonly #closing = new Set<Http2ClientConnection>();
  readonly #waiters: Http2PoolWaiter[] = [];
  #retiring = false;

  constructor(opts: Http2PoolOptions) {
    this.#opts = opts;
    this.#clientOptions = {
      streamWindowBytes: opts.streamWindowBytes,
      connectionWindowBytes: opts.connectionWindowBytes,
      maxHeaderBytes: opts.maxHeaderBytes ?? 65_536,
      maxHeaderCount: opts.maxHeaderCount ?? 100,
      idleTimeoutMs: opts.idleTimeoutMs,
      keepaliveMs: opts.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
      maxBufferedBytes: opts.maxBufferedBytes ?? 32_768,
      handshakeTimeoutMs: opts.connectTimeoutMs + HANDSHAKE_GRACE_MS,
    };
  }

  /** Hands `w` a connection with a free stream slot now, or as soon as one has room (FIFO). */
  acquire(w: Http2PoolWaiter): void {
    const c = this.#pick();
    if (c !== null) return w.onConnection(c);
    this.#waiters.push(w);
  }

  /** `w` no longer wants a connection (its attempt was abandoned while it waited). */
  cancel(w: Http2PoolWaiter): void {
    const i = this.#waiters.indexOf(w);
    if (i >= 0) this.#waiters.splice(i, 1);
  }

  /**
   * A connection with a free stream now, or null (then the caller waits). While a new connection waits for its server's
   * SETTINGS nothing else is opened: how many streams it takes is not known yet.
   */
  #pick(): Http2ClientConnection | null {
    let handshaking = false;
    for (const c of this.#open) {
      if (c.available > 0) return c;
      if (!c.ready) handshaking = true;
    }
    // Even a retired endpoint's pool connects for requests already routed to it (a retry, one that waited for room).
    if (!handshaking && this.#open.length < this.#opts.maxConnections) this.#connect();
    return null;
  }

  #connect(): void {
    const { host, port, connectTimeoutMs } = this.#opts;
    const transport = this.#opts.transport ?? PLAIN;
    // Reads into slab regions where connect() opens the socket itself (plain, mesh TLS); the others emit 'data'.
    const reads = transport.kind === 'plain' || transport.kind === 'tls' ? new ReadRegions() : null;
    const socket = connect({ address: host, port }, transport, connectTimeoutMs, reads ?? undefined);
    this.#open.push(new Http2ClientConnection(socket, this.#clientOptions, this, reads));
  }

  /** Hands waiting requests the streams that are free, opening connections (up to the cap) for the rest. */
  #serveWaiters(): void {
    const waiters = this.#waiters;
    while (waiters.length > 0) {
      const c = this.#pick();
      if (c === null) return;
      waiters.shift()!.onConnection(c);
    }
  }

  // ClientConnectionOwner
  available(conn: Http2ClientConnection): void {
    const waiters = this.#waiters;
    while (waiters.length > 0 && conn.available > 0) waiters.shift()!.onConnection(conn);
    if (waiters.length > 0) this.#serveWaiters();
    if (this.#retiring && conn.activeStreams === 0 && waiters.length === 0) conn.close();
  }

  retired(conn: Http2ClientConnection): void {
    const i = this.#open.indexOf(conn);
    if (i >= 0) this.#open.splice(i, 1);
    if (conn.activeStreams > 0) {
      this.#closing.add(conn);
      conn.socket.once('close', () => this.#closing.delete(conn));
    }
    if (!conn.ready) {
      // It never took a stream: the endpoint is unreachable or not HTTP/2. The waiting requests fail now (their retry
      // policy decides what next) rather than each waiting for another connection that would fail the same way.
      const e = conn.failure ?? new ProxyError(ERRORS.upstreamReset, 'upstream HTTP/2 connection closed before its SETTINGS');
      for (const w of this.#waiters.splice(0)) w.onConnectionError(e);
      return;
    }
    // Requests waiting for room get a fresh connection in its place.
    this.#serveWaiters();
  }

  get openConnections(): number {
    return this.#open.length + this.#closing.size;
  }

  /**
   * The endpoint left the config: each connection closes (GOAWAY) once its streams are done. Not one still waiting for
   * its server's SETTINGS: requests are queued for it, and closing it would fail them.
   */
  retire(): void {
    this.#retiring = true;
    if (this.#waiters.length > 0) return;
    for (const c of [...this.#open]) if (c.ready && c.activeStreams === 0) c.close();
  }

  close(): void {
    this.#retiring = true;
    for (const c of [...this.#open, ...this.#closing]) c.destroy();
  }
}
