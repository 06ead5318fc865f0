// The admin listener (loopback by default): readiness, liveness, Prometheus metrics, the running config, drain.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AdminTarget {
  ready(): boolean;
  /** Lines after the ready / not ready line: where the config comes from (bootstrap pass-through, control plane, file). */
  readyDetails?(): readonly string[];
  metricsText(): Promise<{ contentType: string; body: string }>;
  configDump(): unknown;
  /** POST /drain (and /quitquitquit): start a graceful shutdown, as SIGTERM does. */
  requestShutdown(): void;
  /** POST /app-handoff: the sidecar's postStart hook is done and the kubelet starts the app next (app-exit-watcher.ts). */
  appHandoff?(): void;
}

export function startAdminServer(target: AdminTarget, address: string, port: number): Promise<{ server: http.Server; address: AddressInfo }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    switch (path) {
      case '/ready':
        return readyAnswer(target.ready(), target.readyDetails?.() ?? [], send);
      case '/live':
        return send(200, 'live\n');
      case '/metrics':
        target.metricsText().then(
          (m) => send(200, m.body, m.contentType),
          () => send(500, 'metrics unavailable\n'),
        );
        return;
      case '/config_dump':
        return send(200, JSON.stringify(target.configDump(), null, 2) + '\n', 'application/json');
      case '/drain':
      case '/quitquitquit':
        if (req.method !== 'POST') return send(405, 'use POST\n');
        target.requestShutdown();
        return send(202, 'draining\n');
      case '/app-handoff':
        if (req.method !== 'POST') return send(405, 'use POST\n');
        target.appHandoff?.();
        return send(204, '');
      default:
        return send(404, 'not found: try /ready /live /metrics /config_dump\n');
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

/** /ready's answer: the verdict on the first line (what probes and people look at), then one line per detail. */
export function readyAnswer(ready: boolean, details: readonly string[], send: (status: number, body: string) => void): void {
  const body = `${ready ? 'ready' : 'not ready'}\n${details.map((d) => `${d}\n`).join('')}`;
  send(ready ? 200 : 503, body);
}
