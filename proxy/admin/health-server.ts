// The health listener (all addresses, port 15020): the proxy's /ready, kubelet's rewritten app probes, run against the app on
// loopback, and the proxy's metrics for Prometheus (/stats/prometheus) — nothing else of the admin listener.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { readyAnswer } from './admin-server.ts';
import { APP_HEALTH_PATH_PREFIX, PROXY_PROMETHEUS_PATH, PROXY_READY_PATH } from '../../api/mesh/mesh-constants.ts';

/** The Prometheus text the admin listener serves at /metrics (content type included). */
export type MetricsSource = () => Promise<{ readonly contentType: string; readonly body: string }>;

export interface AppProbe {
  readonly httpGet?: { readonly path?: string; readonly port: number; readonly scheme?: string; readonly httpHeaders?: readonly { name: string; value: string }[] };
  readonly tcpSocket?: { readonly port: number };
  readonly timeoutSeconds?: number;
}

/** Parses SKEIN_APP_PROBES; a malformed value yields no probes (and the caller logs why) rather than a crash. */
export function parseAppProbes(json: string | undefined): { probes: ReadonlyMap<string, AppProbe>; error: string | null } {
  const probes = new Map<string, AppProbe>();
  if (!json) return { probes, error: null };
  try {
    const doc = JSON.parse(json) as Record<string, AppProbe>;
    for (const [path, p] of Object.entries(doc)) {
      if (!path.startsWith(APP_HEALTH_PATH_PREFIX) || typeof p !== 'object' || p === null) continue;
      if (typeof p.httpGet?.port === 'number' || typeof p.tcpSocket?.port === 'number') probes.set(path, p);
    }
    return { probes, error: null };
  } catch (e) {
    return { probes, error: (e as Error).message };
  }
}

function runProbe(p: AppProbe): Promise<{ ok: boolean; detail: string }> {
  const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
  if (p.tcpSocket) {
    return new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: p.tcpSocket!.port, timeout: timeoutMs });
      s.once('connect', () => {
        s.destroy();
        resolve({ ok: true, detail: 'tcp connect ok' });
      });
      s.once('timeout', () => {
        s.destroy();
        resolve({ ok: false, detail: 'tcp connect timed out' });
      });
      s.once('error', (e) => resolve({ ok: false, detail: `tcp connect failed: ${(e as NodeJS.ErrnoException).code}` }));
    });
  }
  const g = p.httpGet!;
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/skein' };
    for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
    const req = http.get({ host: '127.0.0.1', port: g.port, path: g.path ?? '/', headers, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve({ ok: code >= 200 && code < 400, detail: `app answered ${code}` });
    });
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', (e) => resolve({ ok: false, detail: `app probe failed: ${e.message}` }));
  });
}

/**
 * `metrics` serves PROXY_PROMETHEUS_PATH (GET/HEAD only): the admin port stays on loopback (it can drain the proxy and
 * dump its config), so this read-only copy of /metrics is how a scraper outside the pod reaches the proxy's metrics,
 * as Istio's 15020/stats/prometheus does.
 */
export function startHealthServer(
  ready: () => boolean,
  probes: ReadonlyMap<string, AppProbe>,
  address: string,
  port: number,
  metrics?: MetricsSource,
  readyDetails?: () => readonly string[],
): Promise<{ server: http.Server; address: AddressInfo }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (path === PROXY_READY_PATH) return readyAnswer(ready(), readyDetails?.() ?? [], send);
    if (path === PROXY_PROMETHEUS_PATH && metrics) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'use GET\n');
      // A failing collector must cost a scrape, never the health listener that kubelet's probes depend on.
      let pending: ReturnType<MetricsSource>;
      try {
        pending = metrics();
      } catch {
        return send(500, 'metrics unavailable\n');
      }
      pending.then(
        (m) => send(200, m.body, m.contentType),
        () => send(500, 'metrics unavailable\n'),
      );
      return;
    }
    const probe = probes.get(path);
    if (!probe) return send(404, 'unknown probe\n');
    runProbe(probe).then(
      (r) => send(r.ok ? 200 : 503, `${r.detail}\n`),
      () => send(503, 'probe failed\n'),
    );
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
