// The sidecar's inbound listener, in one place: the bootstrap a sidecar starts with and the listener resource the control
// plane pushes to add the workload's mTLS mode and authorization must describe the same socket and routing.
import type { AuthorizationConfig, InboundMtlsConfig } from '../config/mesh-identity-config.ts';
import { PROXY_INBOUND_PORT } from './mesh-constants.ts';

export const SIDECAR_INBOUND_LISTENER = 'inbound';
/** Where inbound traffic goes: the app on 127.0.0.1 at the port it was sent to. */
export const SIDECAR_INBOUND_CLUSTER = 'inbound-app';
/** The same, over HTTP/2 (prior knowledge): where gRPC calls go, since gRPC servers speak nothing else. */
export const SIDECAR_INBOUND_H2_CLUSTER = 'inbound-app-h2';

/**
 * The cluster the inbound routes send non-gRPC requests to: the app on 127.0.0.1 at the port the connection was headed
 * for, over HTTP/1.1, or over HTTP/2 prior knowledge on `http2Ports` (the app's `kubernetes.io/h2c` ports). The bootstrap
 * has it without those ports; the control plane pushes it with them (same name: replaced in place).
 */
export function sidecarInboundAppCluster(http2Ports: readonly number[]): Record<string, unknown> {
  return {
    name: SIDECAR_INBOUND_CLUSTER,
    type: 'original-destination',
    originalDestinationAddress: '127.0.0.1',
    connectTimeoutMs: 300,
    ...(http2Ports.length > 0 ? { http2Ports } : {}),
  };
}

/**
 * The listener without its routes (the bootstrap's route table of the same name sends everything to the app). Pushed as a
 * resource it replaces the bootstrap's listener in place (same address and port: no rebind, open connections kept).
 */
export function sidecarInboundListener(mtls: InboundMtlsConfig | null, authorization: AuthorizationConfig | null): Record<string, unknown> {
  return {
    name: SIDECAR_INBOUND_LISTENER,
    address: '0.0.0.0',
    port: PROXY_INBOUND_PORT,
    direction: 'inbound',
    protocol: 'detect',
    tcpCluster: SIDECAR_INBOUND_CLUSTER,
    ...(mtls ? { mtls } : {}),
    ...(authorization ? { authorization } : {}),
  };
}
