// Rewrites the app's kubelet probes to go through the proxy's health port, and records the originals for the proxy.
//
// With interception on, kubelet's HTTP probes would hit the proxy's inbound listener (and, with mTLS required, fail).
// So each httpGet/tcpSocket probe becomes httpGet 15020 /app-health/<container>/<kind>; the proxy runs the original
// probe against the app over loopback (SKEIN_APP_PROBES). exec and grpc probes are left alone.
import { APP_HEALTH_PATH_PREFIX, PROXY_HEALTH_PORT } from '../api/mesh/mesh-constants.ts';
import { isPlainObject, type Container, type Probe } from './pod-types.ts';

export const PROBE_KINDS = [
  ['readinessProbe', 'readyz'],
  ['livenessProbe', 'livez'],
  ['startupProbe', 'startupz'],
] as const;
export type ProbeField = (typeof PROBE_KINDS)[number][0];

export interface ProbeRewrite {
  readonly containerIndex: number;
  readonly field: ProbeField;
  readonly path: string;
  readonly probe: Probe;
}

export interface ProbeRewriteResult {
  readonly rewrites: readonly ProbeRewrite[];
  /** Probe path -> the original check, with named ports resolved to numbers (the proxy cannot see the pod spec). */
  readonly appProbes: Record<string, unknown>;
  readonly warnings: readonly string[];
}

function resolvePort(container: Container, port: unknown): number | null {
  if (typeof port === 'number') return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : null;
  if (typeof port !== 'string') return null;
  if (/^\d+$/.test(port)) return resolvePort(container, Number(port));
  const named = (Array.isArray(container.ports) ? container.ports : []).find((p) => isPlainObject(p) && p.name === port);
  return named ? resolvePort(container, named.containerPort) : null;
}

export function appHealthPath(container: string, kind: string): string {
  return `${APP_HEALTH_PATH_PREFIX}${container}/${kind}`;
}

export function rewriteProbes(containers: readonly Container[]): ProbeRewriteResult {
  const rewrites: ProbeRewrite[] = [];
  const appProbes: Record<string, unknown> = {};
  const warnings: string[] = [];
  containers.forEach((c, containerIndex) => {
    for (const [field, kind] of PROBE_KINDS) {
      const probe = c[field];
      if (!isPlainObject(probe)) continue;
      const check = isPlainObject(probe.httpGet) ? 'httpGet' : isPlainObject(probe.tcpSocket) ? 'tcpSocket' : null;
      if (check === null) continue; // exec, grpc: kubelet runs them itself, nothing to reroute
      const original = probe[check] as Record<string, unknown>;
      const port = resolvePort(c, original.port);
      if (port === null) {
        warnings.push(`container "${c.name}" ${field}: port ${JSON.stringify(original.port)} does not resolve; probe left unchanged`);
        continue;
      }
      const path = appHealthPath(c.name, kind);
      // With the API server's defaults applied (what the webhook sees, after defaulting), so that `skein inject` on a
      // manifest and the webhook on the created pod record the same thing.
      const action = check === 'httpGet'
        ? { ...original, path: typeof original.path === 'string' && original.path !== '' ? original.path : '/', scheme: typeof original.scheme === 'string' && original.scheme !== '' ? original.scheme : 'HTTP', port }
        : { ...original, port };
      const entry: Record<string, unknown> = { [check]: action, timeoutSeconds: typeof probe.timeoutSeconds === 'number' ? probe.timeoutSeconds : 1 };
      appProbes[path] = entry;
      const { httpGet: _h, tcpSocket: _t, ...rest } = probe;
      rewrites.push({ containerIndex, field, path, probe: { ...rest, httpGet: { path, port: PROXY_HEALTH_PORT, scheme: 'HTTP' } } });
    }
  });
  return { rewrites, appProbes, warnings };
}
