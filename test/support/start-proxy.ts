// Builds a hostile-input test config (one listener and the admin on port 0) and runs the proxy in-process.
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { ProxyConfig } from '../../api/config/proxy-config.ts';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';

export interface HostileProxyOptions {
  /** Port of the upstream that the catch-all route sends to. */
  readonly upstreamPort: number;
  readonly upstreamProtocol?: 'http1' | 'http2';
  readonly direction?: 'inbound' | 'outbound' | 'ingress';
  readonly mode?: 'sidecar' | 'ingress';
  readonly protocol?: 'detect' | 'http' | 'tcp';
  readonly limits?: Record<string, number>;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Virtual host domains (default `*`). */
  readonly domains?: readonly string[];
  /** Extra routes placed before the catch-all. */
  readonly routes?: readonly Record<string, unknown>[];
  /** The upstream cluster's load balancer (default round robin). */
  readonly loadBalancer?: Record<string, unknown>;
}

/** The file form of the config (what `skein proxy --config` reads). */
export function hostileConfigDocument(o: HostileProxyOptions): Record<string, unknown> {
  const mode = o.mode ?? (o.direction === 'ingress' ? 'ingress' : 'sidecar');
  return {
    version: 'hostile-test',
    mode,
    admin: { address: '127.0.0.1', port: 0 },
    listeners: [
      {
        name: 'main',
        address: '127.0.0.1',
        port: 0,
        direction: o.direction ?? (mode === 'ingress' ? 'ingress' : 'outbound'),
        protocol: o.protocol ?? 'detect',
        ...(o.tls ? { tls: { certFile: o.tls.certFile, keyFile: o.tls.keyFile } } : {}),
        virtualHosts: [
          {
            name: 'all',
            domains: o.domains ?? ['*'],
            routes: [...(o.routes ?? []), { name: 'catch-all', backends: [{ cluster: 'up' }] }],
          },
        ],
      },
    ],
    clusters: [
      {
        name: 'up',
        protocol: o.upstreamProtocol ?? 'http1',
        loadBalancer: o.loadBalancer ?? { policy: 'round-robin' },
        endpoints: [{ address: '127.0.0.1', port: o.upstreamPort }],
      },
    ],
    limits: o.limits ?? {},
  };
}

export function hostileConfig(o: HostileProxyOptions): ProxyConfig {
  const parsed = parseProxyConfig(hostileConfigDocument(o));
  if (!parsed.ok) throw new Error(`invalid test config: ${JSON.stringify(parsed.error)}`);
  return parsed.value;
}

export interface HostileProxy {
  readonly proxy: RunningProxy;
  /** The listener's bound port. */
  readonly port: number;
  close(): Promise<void>;
}

export async function startHostileProxy(o: HostileProxyOptions): Promise<HostileProxy> {
  const proxy = await startProxy(hostileConfig(o));
  const port = proxy.listeners.get('main')!.port;
  return { proxy, port, close: () => proxy.close() };
}
