// The sidecar's metrics reach a scraper outside the pod: a request through a listener is counted at /stats/prometheus on
// the health listener, which is the same registry as the admin's /metrics (the admin port itself stays on loopback).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import { PROXY_PROMETHEUS_PATH } from '../../api/mesh/mesh-constants.ts';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { h1Request } from '../support/clients.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('sidecar metrics on the health port', () => {
  let upstream: Upstream;
  let proxy: RunningProxy;
  let healthPort: number;

  beforeAll(async () => {
    upstream = await startHttpUpstream('h1');
    healthPort = await freePort();
    const parsed = parseProxyConfig({
      version: 'metrics-endpoint-test',
      mode: 'sidecar',
      admin: { address: '127.0.0.1', port: 0 },
      listeners: [
        { name: 'inbound', address: '127.0.0.1', port: 0, direction: 'inbound', virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ name: 'app', backends: [{ cluster: 'app' }] }] }] },
      ],
      clusters: [{ name: 'app', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }],
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    proxy = await startProxy(parsed.value, { health: { address: '127.0.0.1', port: healthPort, probes: new Map() } });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('counts a proxied request in /stats/prometheus, the same text as the admin /metrics', async () => {
    const listen = proxy.listeners.get('inbound')!.port;
    expect((await h1Request(listen, '/hello')).status).toBe(200);
    const scraped = await h1Request(healthPort, PROXY_PROMETHEUS_PATH);
    expect(scraped.status).toBe(200);
    expect(String(scraped.headers['content-type'])).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = scraped.body.toString();
    expect(text).toMatch(/skein_requests_total\{listener="inbound",direction="inbound",route="app",cluster="app",code="200",grpc_status="",mtls="false",[^}]*\} 1\n/);
    const admin = (await h1Request(proxy.admin.port, '/metrics')).body.toString();
    const requestsLine = (t: string) => t.split('\n').find((l) => l.startsWith('skein_requests_total{'));
    expect(requestsLine(text)).toBe(requestsLine(admin));
    // Only metrics: the admin's config dump and drain stay on loopback's admin port.
    expect((await h1Request(healthPort, '/config_dump')).status).toBe(404);
    expect((await h1Request(healthPort, '/quitquitquit', { method: 'POST' })).status).toBe(404);
  });
});
