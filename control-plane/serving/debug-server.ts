// The control plane's debug endpoint (plain HTTP): /debug/proxies (every connected proxy's sync state, for
// `skein proxy-status`), /debug/status (the status-writer Lease and write counts), /metrics (Prometheus), /ready and /live.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyStatusView } from './proxy-state.ts';

export interface DebugSources {
  readonly replica: string;
  proxies(): ProxyStatusView[];
  problems(): readonly { readonly object: string; readonly message: string }[];
  ready(): boolean;
  /** The status writer: whether this replica holds the Lease, who does, and write counts. */
  status?(): Readonly<Record<string, unknown>>;
  /** Prometheus text of the control plane's registry; /metrics answers 404 without it. */
  metrics?(): Promise<string>;
}

/** The document /debug/proxies answers with. */
export interface ProxiesDocument {
  readonly replica: string;
  readonly proxies: readonly ProxyStatusView[];
  readonly problems: readonly { readonly object: string; readonly message: string }[];
}

export function startDebugServer(src: DebugSources, address: string, port: number): Promise<{ server: http.Server; address: AddressInfo }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'use GET\n');
    try {
      if (path === '/debug/proxies') {
        const doc: ProxiesDocument = { replica: src.replica, proxies: src.proxies(), problems: src.problems() };
        return send(200, JSON.stringify(doc), 'application/json');
      }
      if (path === '/debug/status' && src.status) return send(200, JSON.stringify({ replica: src.replica, ...src.status() }), 'application/json');
      if (path === '/metrics' && src.metrics) {
        src.metrics().then(
          (text) => send(200, text, 'text/plain; version=0.0.4; charset=utf-8'),
          () => send(500, 'metrics unavailable\n'),
        );
        return;
      }
      if (path === '/live') return send(200, 'live\n');
      if (path === '/ready') return src.ready() ? send(200, 'ready\n') : send(503, 'caches not synced\n');
      return send(404, 'not found\n');
    } catch {
      return send(500, 'internal error\n');
    }
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port }, () => {
      server.off('error', reject);
      resolve({ server, address: server.address() as AddressInfo });
    });
  });
}
