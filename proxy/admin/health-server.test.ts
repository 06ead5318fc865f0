// Unit tests of the health listener's metrics endpoint: Prometheus text at /stats/prometheus, read-only, and a broken
// collector costs only the scrape (kubelet's /ready keeps answering).
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { PROXY_PROMETHEUS_PATH } from '../../api/mesh/mesh-constants.ts';
import { startHealthServer, type MetricsSource } from './health-server.ts';

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

async function start(metrics?: MetricsSource): Promise<string> {
  const s = await startHealthServer(() => true, new Map(), '127.0.0.1', 0, metrics);
  server = s.server;
  return `http://127.0.0.1:${s.address.port}`;
}

describe('health listener /stats/prometheus', () => {
  it('serves the metrics text with its content type', async () => {
    const base = await start(async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'skein_requests_total{direction="inbound"} 3\n' }));
    const r = await fetch(`${base}${PROXY_PROMETHEUS_PATH}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await r.text()).toBe('skein_requests_total{direction="inbound"} 3\n');
    // Query strings (some scrapers add them) do not change the path.
    expect((await fetch(`${base}${PROXY_PROMETHEUS_PATH}?x=1`)).status).toBe(200);
  });

  it('is read-only: other methods get 405 and the admin endpoints do not exist here', async () => {
    const base = await start(async () => ({ contentType: 'text/plain', body: 'x 1\n' }));
    expect((await fetch(`${base}${PROXY_PROMETHEUS_PATH}`, { method: 'POST' })).status).toBe(405);
    for (const path of ['/metrics', '/config_dump', '/quitquitquit', '/drain']) {
      expect((await fetch(`${base}${path}`, { method: path === '/config_dump' || path === '/metrics' ? 'GET' : 'POST' })).status).toBe(404);
    }
  });

  it('answers 500 when the collector rejects or throws, and /ready still answers', async () => {
    const rejecting = await start(() => Promise.reject(new Error('collector broke')));
    expect((await fetch(`${rejecting}${PROXY_PROMETHEUS_PATH}`)).status).toBe(500);
    expect((await fetch(`${rejecting}/ready`)).status).toBe(200);
    server!.closeAllConnections();
    server!.close();
    const throwing = await start(() => {
      throw new Error('sync throw');
    });
    expect((await fetch(`${throwing}${PROXY_PROMETHEUS_PATH}`)).status).toBe(500);
    expect((await fetch(`${throwing}/ready`)).status).toBe(200);
  });

  it('is absent (404) when no metrics source is given', async () => {
    const base = await start();
    expect((await fetch(`${base}${PROXY_PROMETHEUS_PATH}`)).status).toBe(404);
  });
});
