// Default values of the proxy config, per mode; documented in docs/proxy-config.md (a test keeps the two in step).
import type { LimitsConfig, ProxyMode } from './proxy-config.ts';

export const DEFAULT_ADMIN_PORT = 15000;
export const DEFAULT_INBOUND_PORT = 15006;
export const DEFAULT_OUTBOUND_PORT = 15001;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
export const DEFAULT_OUTBOUND_CONNECT_TIMEOUT_MS = 1_000;
/** Clusters that only inbound listeners use (the local app) get a shorter connect timeout. */
export const DEFAULT_INBOUND_CONNECT_TIMEOUT_MS = 300;
export const DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT = 1024;

const common = {
  maxHeaderCount: 100,
  headersTimeoutMs: 10_000,
  requestIdleTimeoutMs: 300_000,
  connectionIdleTimeoutMs: 3_600_000,
  http2MaxConcurrentStreams: 100,
  http2StreamWindowBytes: 65_536,
  http2ConnectionWindowBytes: 1_048_576,
  maxBufferedBytesPerConnection: 32_768,
  maxConnectionsPerListener: 10_000,
  // As Linkerd's proxy (Istio's sidecar waits for ever): long enough that a loaded machine does not turn a client that
  // speaks HTTP a moment late into opaque TCP; server-first protocols wait this long for their first bytes unless their
  // ports are excluded from the proxy (docs/proxy-config.md, "Protocol detection").
  protocolDetectTimeoutMs: 10_000,
} as const;

export const DEFAULT_LIMITS: Readonly<Record<ProxyMode, LimitsConfig>> = {
  sidecar: { ...common, maxRequestHeaderBytes: 65_536 },
  ingress: { ...common, maxRequestHeaderBytes: 32_768 },
};
