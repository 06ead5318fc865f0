// Builds a proxy config for tests (listener and admin on port 0) and runs the proxy in-process.
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { ProxyConfig } from '../../api/config/proxy-config.ts';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';

export interface TestProxy {
  readonly proxy: RunningProxy;
  readonly port: number;
  readonly url: string;
  readonly adminUrl: string;
  close(): Promise<void>;
}

/** Parses `doc` (the file form) and throws with every problem if it is invalid. */
export function testConfig(doc: Record<string, unknown>): ProxyConfig {
  const parsed = parseProxyConfig({ admin: { address: '127.0.0.1', port: 0 }, ...doc });
  if (!parsed.ok) throw new Error(`invalid test config: ${JSON.stringify(parsed.error)}`);
  return parsed.value;
}

/** One detect listener on 127.0.0.1:0 whose default virtual host has `routes`; `clusters` as in the file form. */
export async function startTestProxy(opts: {
  routes: Record<string, unknown>[];
  clusters: Record<string, unknown>[];
  tcpCluster?: string;
  direction?: string;
  mode?: string;
  limits?: Record<string, unknown>;
}): Promise<TestProxy> {
  const config = testConfig({
    mode: opts.mode ?? 'sidecar',
    listeners: [
      {
        name: 'test',
        address: '127.0.0.1',
        port: 0,
        direction: opts.direction ?? 'outbound',
        ...(opts.tcpCluster ? { tcpCluster: opts.tcpCluster } : {}),
        virtualHosts: [{ name: 'default', domains: ['*'], routes: opts.routes }],
      },
    ],
    clusters: opts.clusters,
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  const proxy = await startProxy(config);
  const port = proxy.listeners.get('test')!.port;
  return {
    proxy,
    port,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${proxy.admin.port}`,
    close: () => proxy.close(),
  };
}
