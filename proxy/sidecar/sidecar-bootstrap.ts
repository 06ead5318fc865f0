// The config a sidecar starts with, derived from the environment the injector gives it (until the control plane pushes one).
import {
  PROXY_ADMIN_PORT,
  PROXY_OUTBOUND_PORT,
  SIDECAR_ENV,
} from '../../api/mesh/mesh-constants.ts';
import { SIDECAR_INBOUND_CLUSTER, SIDECAR_INBOUND_H2_CLUSTER, sidecarInboundAppCluster, sidecarInboundListener } from '../../api/mesh/sidecar-inbound.ts';

/**
 * Inbound (15006, all addresses): traffic iptables redirected to this pod goes to the app on 127.0.0.1 at the port it
 * was sent to. Outbound (15001, loopback): the app's traffic goes where it was headed (original destination); HTTP is
 * parsed, routed and measured on the way, anything else passes through as TCP.
 */
export function sidecarConfigDocument(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const pod = env[SIDECAR_ENV.podName] ?? 'unknown-pod';
  const ns = env[SIDECAR_ENV.podNamespace] ?? 'default';
  const passthrough = (name: string, direction: string) => ({
    name: `${direction}-all`,
    domains: ['*'],
    routes: [{ name, backends: [{ cluster: name }] }],
  });
  // Mesh-wide tracing from the injector; a value the config parser refuses stops the sidecar with that reason.
  const collector = env[SIDECAR_ENV.traceCollector]?.trim();
  const sampling = env[SIDECAR_ENV.traceSamplingPercent]?.trim();
  const tracing = {
    ...(collector ? { collector } : {}),
    ...(sampling ? { samplingPercent: Number(sampling) } : {}),
  };
  return {
    version: 'bootstrap',
    mode: 'sidecar',
    node: `${pod}.${ns}`,
    ...(Object.keys(tracing).length > 0 ? { telemetry: { tracing } } : {}),
    admin: { address: '127.0.0.1', port: PROXY_ADMIN_PORT },
    listeners: [
      {
        // With a mesh identity the sidecar also takes mTLS from meshed callers (and still plain text from the rest) until
        // the control plane pushes this workload's mode and authorization.
        ...sidecarInboundListener(env[SIDECAR_ENV.trustAnchors] ? { mode: 'permissive', ports: [] } : null, null),
        virtualHosts: [
          {
            name: 'inbound-all',
            domains: ['*'],
            routes: [
              // gRPC servers speak only HTTP/2: a gRPC call (from HTTP/2, or an HTTP/1.1 caller) goes to the app as HTTP/2;
              // the rest as HTTP/1.1, which every HTTP app takes (gRPC-Web, application/grpc-web, is HTTP/1.1 on purpose).
              { name: SIDECAR_INBOUND_H2_CLUSTER, match: { headers: [{ name: 'content-type', type: 'regex', value: 'application/grpc([+;].*)?' }] }, backends: [{ cluster: SIDECAR_INBOUND_H2_CLUSTER }] },
              { name: SIDECAR_INBOUND_CLUSTER, backends: [{ cluster: SIDECAR_INBOUND_CLUSTER }] },
            ],
          },
        ],
      },
      {
        name: 'outbound',
        address: '127.0.0.1',
        port: PROXY_OUTBOUND_PORT,
        direction: 'outbound',
        protocol: 'detect',
        tcpCluster: 'outbound-passthrough',
        virtualHosts: [passthrough('outbound-passthrough', 'outbound')],
      },
    ],
    clusters: [
      sidecarInboundAppCluster([]),
      { name: SIDECAR_INBOUND_H2_CLUSTER, type: 'original-destination', originalDestinationAddress: '127.0.0.1', connectTimeoutMs: 300, protocol: 'http2' },
      { name: 'outbound-passthrough', type: 'original-destination' },
    ],
  };
}
