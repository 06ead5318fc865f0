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

let edits = 0;

/**
 * Replaces fields of the running listener resource `name` (its mTLS mode, its authorization...) through the proxy's one
 * config entry point, as a control-plane push does: the same socket, a new snapshot. Throws if the change is refused.
 */
export async function editListener(proxy: RunningProxy, name: string, patch: Record<string, unknown>): Promise<void> {
  const listener = proxy.runtime.config.listeners.find((l) => l.name === name);
  if (listener === undefined) throw new Error(`no listener ${name}`);
  const { virtualHosts: _, ...rest } = listener;
  const version = `edit-${++edits}`;
  const outcome = await proxy.runtime.applyChangeSet({ version, upserts: [{ type: 'listener', name, version, body: { ...rest, routeTable: name, ...patch } }], removals: [] });
  if (!outcome.ok) throw new Error(`listener edit refused: ${JSON.stringify(outcome.reasons)}`);
}
