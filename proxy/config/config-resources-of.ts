// A whole config document (a file, or the sidecar's bootstrap) as resources: its settings, each listener with a route
// table of its own name, each cluster with its endpoints inline. Versions are content hashes, so an unchanged part of an
// edited file is an unchanged resource (nothing rebuilt).
import { createHash } from 'node:crypto';
import { SETTINGS_NAME } from '../../api/config/config-resources.ts';
import type { ProxyConfig } from '../../api/config/proxy-config.ts';
import type { ResourceUpdate } from './change-set.ts';

function update(type: string, name: string, body: unknown): ResourceUpdate {
  const version = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  return { type, name, version, body };
}

export function configResources(config: ProxyConfig): ResourceUpdate[] {
  const { mode, node, admin, limits, drainTimeoutMs, telemetry } = config;
  const out: ResourceUpdate[] = [update('settings', SETTINGS_NAME, { mode, node, admin, limits, drainTimeoutMs, telemetry })];
  for (const { virtualHosts, ...listener } of config.listeners) {
    out.push(update('listener', listener.name, { ...listener, routeTable: listener.name }));
    out.push(update('route-table', listener.name, { name: listener.name, virtualHosts }));
  }
  for (const c of config.clusters) out.push(update('cluster', c.name, c));
  return out;
}

/** The version of a whole document's resource set. */
export function resourceSetVersion(resources: readonly ResourceUpdate[]): string {
  const h = createHash('sha256');
  for (const r of resources) h.update(`${r.type}/${r.name}@${r.version}\n`);
  return h.digest('hex').slice(0, 16);
}
