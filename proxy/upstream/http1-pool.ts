// HTTP/1.1 connections to one endpoint: keep-alive, a cap on open connections, idle eviction, connect timeout.
import http from 'node:http';
import type { Socket } from 'node:net';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';

export interface Http1PoolOptions {
  readonly host: string;
  readonly port: number;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export class Http1Pool {
  readonly #agent: http.Agent;
  readonly #opts: Http1PoolOptions;

  constructor(opts: Http1PoolOptions) {
    this.#opts = opts;
    this.#agent = new http.Agent({
      keepAlive: true,
      maxSockets: opts.maxConnections,
      maxFreeSockets: Math.min(256, opts.maxConnections),
      // Applies to idle (free) sockets: they are closed after this long.
      timeout: opts.idleTimeoutMs,
      scheduling: 'lifo',
    });
  }

  /** Starts a request; the caller streams the body and listens for 'response' / 'error'. */
  request(method: string, path: string, headers: http.OutgoingHttpHeaders): http.ClientRequest {
    const req = http.request({
      agent: this.#agent,
      host: this.#opts.host,
      port: this.#opts.port,
      method,
      path,
      headers,
      setHost: false,
      // Don't let Node add its own framing headers except the ones we pass.
      joinDuplicateHeaders: false,
    });
    const connectTimeoutMs = this.#opts.connectTimeoutMs;
    req.once('socket', (socket: Socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => {
        req.destroy(new ProxyError(ERRORS.connectTimeout, `${this.#opts.host}:${this.#opts.port}`));
      }, connectTimeoutMs);
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    return req;
  }

  get openConnections(): number {
    let n = 0;
    for (const list of Object.values(this.#agent.sockets)) n += list?.length ?? 0;
    for (const list of Object.values(this.#agent.freeSockets)) n += list?.length ?? 0;
    return n;
  }

  close(): void {
    this.#agent.destroy();
  }
}
