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

export interface SkeinIngressSpec {
  /** The HTTPS listener's port (fixed: worker processes share it). */
  readonly port: number;
  readonly upstreamPort: number;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * An ingress without a control plane (the file form, `mode: ingress`): one HTTPS listener terminating TLS with one
 * certificate (ALPN h2 and http/1.1, as the control plane sets for a Gateway's HTTPS listener), one virtual host with one
 * prefix route to a single-endpoint HTTP/1.1 cluster on loopback. The virtual host takes every name: wrk dials by address
 * (SNI and Host `127.0.0.1`), fortio by the certificate's name; the 421 check (Host against SNI) runs for both.
 */
export function skeinIngressConfig(node: string, adminPort: number, s: SkeinIngressSpec): Record<string, unknown> {
  return {
    version: 'bench-ingress-1',
    mode: 'ingress',
    node,
    admin: { address: '127.0.0.1', port: adminPort },
    listeners: [{
      name: 'https',
      address: '127.0.0.1',
      port: s.port,
      direction: 'ingress',
      protocol: 'detect',
      tls: { certFile: s.certFile, keyFile: s.keyFile, alpn: ['h2', 'http/1.1'] },
      virtualHosts: [{
        name: 'edge',
        domains: ['*'],
        routes: [{ name: 'edge-all', match: { path: { type: 'prefix', value: '/' } }, backends: [{ cluster: 'edge-up' }] }],
      }],
    }],
    clusters: [{ name: 'edge-up', protocol: 'http1', endpoints: [{ address: '127.0.0.1', port: s.upstreamPort }] }],
  };
}

/**
 * Every traffic policy configured, each at its documented defaults (docs/proxy-config.md "Policies"), for the bench's
 * "policies at their defaults" figure (issue 9: at most 5 % more than the bare request stack). Policies with no default
 * value get one that a user would write and that never changes an answer in the bench: Envoy's 15 s route timeout, the
 * 5 min stream idle timeout of ../shared/RELIABILITY.md, a rate limit far above any bench rate, and a fault only for
 * requests carrying a header the load generators never send. No mirror: a mirror doubles the upstream traffic by design.
 */
export const POLICY_DEFAULTS = {
  route: {
    timeoutMs: 15_000,
    streamIdleTimeoutMs: 300_000,
    retries: {},
    rateLimit: { requestsPerSecond: 1_000_000 },
    fault: { abort: { httpStatus: 503 }, header: 'x-bench-fault' },
  },
  cluster: {
    loadBalancer: { policy: 'p2c-ewma' },
    circuitBreaker: {},
    outlierDetection: {},
  },
} as const;

/** `config` (from skeinProxyConfig) with `patch` merged into every route and every cluster. */
export function withRouteAndCluster(config: Record<string, unknown>, patch: { readonly route?: object; readonly cluster?: object }): Record<string, unknown> {
  type Listener = { virtualHosts: { routes: Record<string, unknown>[] }[] };
  return {
    ...config,
    listeners: (config.listeners as Listener[]).map((l) => ({ ...l, virtualHosts: l.virtualHosts.map((v) => ({ ...v, routes: v.routes.map((r) => ({ ...r, ...patch.route })) })) })),
    clusters: (config.clusters as Record<string, unknown>[]).map((c) => ({ ...c, ...patch.cluster })),
  };
}
