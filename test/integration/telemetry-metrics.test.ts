// Golden metrics through a real proxy: gRPC status from trailers, workload and identity labels, body sizes, client cancels.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { testConfig } from '../support/proxy-fixture.ts';
import { loadEchoService, startGrpcUpstream } from '../support/upstreams.ts';

/** The value of the one sample of `name` whose labels include every `labels` pair (summed over the others). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const [, set, value] = /^[^{]+\{(.*)\} (\S+)$/.exec(line) ?? [];
    if (set === undefined) continue;
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(value);
  }
  return sum;
}

describe('golden metrics through the proxy', () => {
  let grpcUp: { port: number; close(): Promise<void> };
  let httpUp: http.Server;
  let proxy: RunningProxy;
  let port: number;
  let client: any;
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${proxy.admin.port}/metrics`)).text();

  beforeAll(async () => {
    grpcUp = await startGrpcUpstream();
    httpUp = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/hang') return; // never answers: the client gives up
        res.end(Buffer.alloc(300, 'r'));
      });
    });
    await new Promise<void>((r) => httpUp.listen(0, '127.0.0.1', r));
    const config = testConfig({
      mode: 'sidecar',
      telemetry: { workload: { workload: 'web', namespace: 'shop', identity: 'spiffe://cluster.local/ns/shop/sa/web' } },
      listeners: [
        {
          name: 'out',
          address: '127.0.0.1',
          port: 0,
          direction: 'outbound',
          virtualHosts: [
            {
              name: 'all',
              domains: ['*'],
              routes: [
                { name: 'echo-grpc', match: { path: { type: 'prefix', value: '/skein.test.Echo' } }, backends: [{ cluster: 'echo-grpc' }] },
                { name: 'api', backends: [{ cluster: 'api' }] },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'echo-grpc',
          protocol: 'http2',
          destination: { workload: 'echo', namespace: 'shop', service: 'echo.shop', identity: 'spiffe://cluster.local/ns/shop/sa/echo' },
          endpoints: [{ address: '127.0.0.1', port: grpcUp.port }],
        },
        {
          name: 'api',
          destination: { service: 'api.shop', namespace: 'shop' },
          endpoints: [{ address: '127.0.0.1', port: (httpUp.address() as AddressInfo).port, destination: { workload: 'api-v2' } }],
        },
      ],
    });
    proxy = await startProxy(config);
    port = proxy.listeners.get('out')!.port;
    const pkg = loadEchoService() as any;
    client = new pkg.skein.test.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await proxy?.close();
    await grpcUp?.close();
    httpUp?.closeAllConnections();
    await new Promise((r) => httpUp?.close(r));
  });

  it('labels a gRPC call that fails with NOT_FOUND by its grpc-status, not as a plain 200', async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) => client.Unary({ text: 'not-found', count: 0 }, (e: grpc.ServiceError) => resolve(e)));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    await new Promise<void>((resolve, reject) => client.Unary({ text: 'ok', count: 0 }, (e: Error | null) => (e ? reject(e) : resolve())));
    const text = await metrics();
    const base = { route: 'echo-grpc', code: '200' };
    expect(sample(text, 'skein_requests_total', { ...base, grpc_status: 'NOT_FOUND' })).toBe(1);
    expect(sample(text, 'skein_requests_total', { ...base, grpc_status: 'OK' })).toBe(1);
    expect(sample(text, 'skein_requests_total', { ...base, grpc_status: '' })).toBe(0);
  });

  it('labels source and destination workload, namespace, identity and service (an endpoint\'s own metadata wins)', async () => {
    await client.close?.();
    const pkg = loadEchoService() as any;
    client = new pkg.skein.test.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const text = await metrics();
    expect(sample(text, 'skein_requests_total', {
      direction: 'outbound',
      source_workload: 'web',
      source_namespace: 'shop',
      source_identity: 'spiffe://cluster.local/ns/shop/sa/web',
      destination_workload: 'echo',
      destination_namespace: 'shop',
      destination_identity: 'spiffe://cluster.local/ns/shop/sa/echo',
      destination_service: 'echo.shop',
      mtls: 'false',
    })).toBe(2);
    const r = await fetch(`http://127.0.0.1:${port}/items`, { method: 'POST', body: Buffer.alloc(1000, 'q') });
    expect((await r.arrayBuffer()).byteLength).toBe(300);
    const after = await metrics();
    const api = { route: 'api', destination_workload: 'api-v2', destination_service: 'api.shop', destination_identity: 'unknown' };
    expect(sample(after, 'skein_requests_total', { ...api, code: '200' })).toBe(1);
    expect(sample(after, 'skein_request_size_bytes_sum', api)).toBe(1000);
    expect(sample(after, 'skein_response_size_bytes_sum', api)).toBe(300);
    expect(sample(after, 'skein_request_duration_seconds_count', api)).toBe(1);
  });

  it('a client that gives up is recorded as 499 client-cancelled, never as an upstream failure', async () => {
    const before = await metrics();
    const ac = new AbortController();
    const pending = fetch(`http://127.0.0.1:${port}/hang`, { signal: ac.signal }).catch(() => 'aborted');
    // Abort once the upstream has the request (the proxy's in-flight count says so), not after a guessed sleep.
    for (let i = 0; i < 200 && proxy.runtime.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(proxy.runtime.inFlight).toBe(1);
    ac.abort();
    expect(await pending).toBe('aborted');
    for (let i = 0; i < 200 && proxy.runtime.inFlight !== 0; i++) await new Promise((r) => setTimeout(r, 5));
    const text = await metrics();
    expect(sample(text, 'skein_requests_total', { route: 'api', code: '499' })).toBe(1);
    const errors = (t: string): number => sample(t, 'skein_proxy_errors_total', {});
    expect(errors(text)).toBe(errors(before));
  });
});
