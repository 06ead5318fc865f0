// Builds the Skein proxy config documents (the file format of api/config/proxy-config-schema.ts) for the benchmark topologies.

export interface SkeinListenerSpec {
  readonly name: string;
  readonly port: number;
  readonly direction: 'inbound' | 'outbound';
  /** Where everything this listener receives goes. */
  readonly upstreamPort: number;
  readonly upstreamProtocol: 'http1' | 'http2';
}

/** One proxy process: one catch-all route per listener to a single-endpoint cluster on loopback. */
export function skeinProxyConfig(node: string, adminPort: number, listeners: readonly SkeinListenerSpec[]): Record<string, unknown> {
  return {
    version: 'bench-1',
    mode: 'sidecar',
    node,
    admin: { address: '127.0.0.1', port: adminPort },
    listeners: listeners.map((l) => ({
      name: l.name,
      address: '127.0.0.1',
      port: l.port,
      direction: l.direction,
      protocol: 'detect',
      virtualHosts: [{
        name: `${l.name}-all`,
        domains: ['*'],
        routes: [{ name: `${l.name}-all`, match: { path: { type: 'prefix', value: '/' } }, backends: [{ cluster: `${l.name}-up` }] }],
      }],
    })),
    clusters: listeners.map((l) => ({
      name: `${l.name}-up`,
      protocol: l.upstreamProtocol,
      endpoints: [{ address: '127.0.0.1', port: l.upstreamPort }],
    })),
  };
}
