// The config an ingress fed by the control plane starts with: settings only, no listener (each Gateway listener arrives
// as a `listener` resource); and who it is in the control plane's Hello (which Gateway it serves, which worker it is).
import { PROXY_ADMIN_PORT, SIDECAR_ENV } from '../../api/mesh/mesh-constants.ts';
import type { Hello } from '../../api/proto/config-discovery.ts';

export function ingressConfigDocument(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const pod = env[SIDECAR_ENV.podName] ?? 'skein-ingress';
  const ns = env[SIDECAR_ENV.podNamespace] ?? 'default';
  return { version: 'bootstrap', mode: 'ingress', node: `${pod}.${ns}`, admin: { address: '127.0.0.1', port: PROXY_ADMIN_PORT }, listeners: [], clusters: [] };
}

/**
 * The Hello of an ingress: mode ingress, the Gateway it serves (`namespace/name`; '' for every Gateway of Skein's
 * classes), and a proxy id per worker process: each worker holds its own runtime, so each is a proxy of its own to the
 * control plane (one stream would otherwise replace the other).
 */
export function ingressHello(sidecarHello: Omit<Hello, 'knownVersions'>, gateway: string, worker: number | null): Omit<Hello, 'knownVersions'> {
  const id = `${sidecarHello.podName}.${sidecarHello.podNamespace}`;
  return { ...sidecarHello, mode: 'ingress', gateway, proxyId: worker === null ? id : `${id}.w${worker}` };
}
