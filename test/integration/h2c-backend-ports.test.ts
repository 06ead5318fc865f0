// A cluster's http2Ports: the endpoints on those ports get HTTP/2 by prior knowledge (h2c), the others the cluster's
// protocol; as the sidecar's inbound cluster reaches an app port whose Service says appProtocol kubernetes.io/h2c.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';
import { http1Get } from '../support/raw-http.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';

describe('h2c endpoint ports', () => {
  let h1: Upstream;
  let h2c: Upstream;
  let proxy: RunningProxy;
  let port = 0;

  beforeAll(async () => {
    h1 = await startHttpUpstream('h1', { id: 'h1' });
    // An h2c-only server: an HTTP/1.1 request gets no answer it can use.
    h2c = await startHttpUpstream('h2', { id: 'h2c' });
    const parsed = parseProxyConfig({
      version: 'h2c-test',
      mode: 'sidecar',
      admin: { address: '127.0.0.1', port: 0 },
      listeners: [
        {
          name: 'main',
          address: '127.0.0.1',
          port: 0,
          direction: 'outbound',
          virtualHosts: [
            {
              name: 'all',
              domains: ['*'],
              routes: [
                { name: 'to-h2c', match: { path: { type: 'prefix', value: '/h2c' } }, backends: [{ cluster: 'app-h2c' }] },
                { name: 'to-h1', backends: [{ cluster: 'app-h1' }] },
              ],
            },
          ],
        },
      ],
      clusters: [
        { name: 'app-h2c', protocol: 'http1', http2Ports: [h2c.port], endpoints: [{ address: '127.0.0.1', port: h2c.port }] },
        { name: 'app-h1', protocol: 'http1', http2Ports: [h2c.port], endpoints: [{ address: '127.0.0.1', port: h1.port }] },
      ],
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    proxy = await startProxy(parsed.value);
    port = proxy.listeners.get('main')!.port;
  });
  afterAll(async () => {
    await proxy?.close();
    await h1?.close();
    await h2c?.close();
  });

  it('an HTTP/1.1 request reaches the h2c port over HTTP/2, and another port of the same config over HTTP/1.1', async () => {
    const a = await http1Get(port, '/h2c/x', { host: 'app' });
    expect(a.status).toBe(200);
    expect(h2c.seen.at(-1)).toMatchObject({ path: '/h2c/x', protocol: 'h2' });
    const b = await http1Get(port, '/plain', { host: 'app' });
    expect(b.status).toBe(200);
    expect(h1.seen.at(-1)).toMatchObject({ path: '/plain', protocol: 'h1' });
  });
});
