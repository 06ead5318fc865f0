// The proxy's config as named, versioned resources: stages a change set (every body validated, then every cross reference
// over the whole next set) and answers the next set or every reason; the runtime builds from it and commits it.
import {
  CONFIG_RESOURCE_TYPES,
  SETTINGS_NAME,
  type ConfigResourceType,
  type ParsedResource,
  type ProxySettings,
} from '../../api/config/config-resources.ts';
import { parseConfigResource } from '../../api/config/parse-config-resource.ts';
import type { ClusterConfig, VirtualHostConfig } from '../../api/config/proxy-config.ts';
import { resourceKey, type NackReason } from '../../api/proto/config-discovery.ts';
import { err, ok, type Result } from '../../api/result.ts';
import type { ChangeSet } from './change-set.ts';
import { routeTableHosts } from './route-table-hosts.ts';

export type StoredResource = ParsedResource & { readonly name: string; readonly version: string };

export interface StagedConfig {
  readonly version: string;
  /** The whole next set, by key "<type>/<name>". */
  readonly resources: ReadonlyMap<string, StoredResource>;
  /** Keys whose version changed, appeared or went away. */
  readonly changed: ReadonlySet<string>;
}

/** Settings fields (all of them) that a running proxy cannot change: the listeners and admin socket were built with them. */
const RESTART_FIELDS = ['mode', 'node', 'admin', 'limits', 'drainTimeoutMs'] as const;

const KNOWN_TYPES = new Set<string>(CONFIG_RESOURCE_TYPES);

export class ConfigStore {
  #resources: ReadonlyMap<string, StoredResource> = new Map();
  #version = '';

  get version(): string {
    return this.#version;
  }

  get resources(): ReadonlyMap<string, StoredResource> {
    return this.#resources;
  }

  get settings(): ProxySettings | null {
    const s = this.#resources.get(`settings/${SETTINGS_NAME}`);
    return s?.type === 'settings' ? s.value : null;
  }

  /** Validates a change set against the current set; nothing changes here (commit does that). */
  stage(changes: ChangeSet): Result<StagedConfig, readonly NackReason[]> {
    const reasons: NackReason[] = [];
    const next = new Map(this.#resources);
    const changed = new Set<string>();
    const seen = new Set<string>();
    const current = this.settings;
    const pending = changes.upserts.find((u) => u.type === 'settings');
    const mode = current?.mode ?? ((pending?.body as { mode?: unknown } | null)?.mode === 'ingress' ? 'ingress' : 'sidecar');
    for (const r of changes.removals) {
      const key = resourceKey(r);
      if (seen.has(key)) reasons.push({ type: r.type, name: r.name, path: '', message: 'named twice in one change' });
      seen.add(key);
      if (r.type === 'settings') reasons.push({ type: r.type, name: r.name, path: '', message: 'the settings cannot be removed' });
      if (next.delete(key)) changed.add(key);
    }
    for (const u of changes.upserts) {
      const key = resourceKey(u);
      if (seen.has(key)) {
        reasons.push({ type: u.type, name: u.name, path: '', message: 'named twice in one change' });
        continue;
      }
      seen.add(key);
      if (!KNOWN_TYPES.has(u.type)) {
        reasons.push({ type: u.type, name: u.name, path: '', message: `unknown resource type (known: ${CONFIG_RESOURCE_TYPES.join(', ')})` });
        continue;
      }
      if (typeof u.name !== 'string' || u.name === '' || u.name.length > 512) {
        reasons.push({ type: u.type, name: String(u.name).slice(0, 64), path: '', message: 'needs a name of 1 to 512 characters' });
        continue;
      }
      const old = this.#resources.get(key);
      // Same version, same content: nothing to validate or rebuild (a reconnect or a file save without edits).
      if (old !== undefined && old.version === u.version && u.version !== '') {
        next.set(key, old);
        continue;
      }
      const parsed = parseConfigResource(u.type, u.name, u.body, { mode });
      if (!parsed.ok) {
        for (const p of parsed.error) reasons.push({ type: u.type, name: u.name, path: p.path, message: p.message });
        continue;
      }
      next.set(key, { ...parsed.value, name: u.name, version: u.version } as StoredResource);
      changed.add(key);
    }
    if (reasons.length === 0) reasons.push(...checkReferences(next), ...checkRestart(current, next));
    if (reasons.length > 0) return err(reasons);
    return ok({ version: changes.version, resources: next, changed });
  }

  commit(staged: StagedConfig): void {
    this.#resources = staged.resources;
    this.#version = staged.version;
  }
}

function checkRestart(current: ProxySettings | null, next: ReadonlyMap<string, StoredResource>): NackReason[] {
  const s = next.get(`settings/${SETTINGS_NAME}`);
  if (current === null || s?.type !== 'settings') return [];
  const reasons: NackReason[] = [];
  for (const f of RESTART_FIELDS) {
    if (JSON.stringify(current[f]) !== JSON.stringify(s.value[f])) {
      reasons.push({ type: 'settings', name: SETTINGS_NAME, path: f, message: `cannot change while the proxy runs (needs a restart): ${JSON.stringify(current[f])} -> ${JSON.stringify(s.value[f])}` });
    }
  }
  return reasons;
}

/**
 * Every reference of the whole set: listeners -> route tables, clusters and secrets, virtual hosts -> route tables, routes ->
 * clusters, VIPs -> virtual hosts (a table's own or its `virtual-host` resources).
 */
export function checkReferences(all: ReadonlyMap<string, StoredResource>): NackReason[] {
  const reasons: NackReason[] = [];
  const of = <T extends ConfigResourceType>(type: T) => [...all.values()].filter((r): r is Extract<StoredResource, { type: T }> => r.type === type);
  const clusters = new Map<string, ClusterConfig>(of('cluster').map((c) => [c.name, c.value]));
  const tables = new Map(of('route-table').map((t) => [t.name, t.value]));
  if (!all.has(`settings/${SETTINGS_NAME}`)) reasons.push({ type: 'settings', name: SETTINGS_NAME, path: '', message: 'is required' });
  const needCluster = (type: string, name: string, path: string, cluster: string): void => {
    if (!clusters.has(cluster)) reasons.push({ type, name, path, message: `unknown cluster "${cluster}"` });
  };
  const checkRoutes = (vh: VirtualHostConfig, type: string, name: string, at: string): void =>
    vh.routes.forEach((r, ri) => {
      r.backends.forEach((b, bi) => needCluster(type, name, `${at}routes[${ri}].backends[${bi}].cluster`, b.cluster));
      r.mirrors.forEach((m, mi) => needCluster(type, name, `${at}routes[${ri}].mirrors[${mi}].cluster`, m.cluster));
    });
  const hostsOf = routeTableHosts(all);
  /** Per table, once: a set holds a VIP table per Service. */
  const hostNames = new Map<string, Set<string>>();
  const bound = new Map<string, string>();
  for (const l of of('listener')) {
    const v = l.value;
    if (v.routeTable !== null && !tables.has(v.routeTable)) reasons.push({ type: 'listener', name: l.name, path: 'routeTable', message: `unknown route table "${v.routeTable}"` });
    if (v.tcpCluster !== null) needCluster('listener', l.name, 'tcpCluster', v.tcpCluster);
    if (v.tls !== null) {
      [v.tls, ...(v.tls.certificates ?? [])].forEach((c, i) => {
        if (c.secret !== undefined && !all.has(`secret/${c.secret}`)) reasons.push({ type: 'listener', name: l.name, path: i === 0 ? 'tls.secret' : `tls.certificates[${i - 1}].secret`, message: `unknown secret "${c.secret}"` });
      });
      (v.tls.clientValidation?.caSecrets ?? []).forEach((n, i) => {
        if (!all.has(`secret/${n}`)) reasons.push({ type: 'listener', name: l.name, path: `tls.clientValidation.caSecrets[${i}]`, message: `unknown secret "${n}"` });
      });
    }
    const at = `${v.address}:${v.port}`;
    if (v.port !== 0 && bound.has(at)) reasons.push({ type: 'listener', name: l.name, path: 'port', message: `${at} is already used by listener "${bound.get(at)}"` });
    bound.set(at, l.name);
  }
  for (const t of of('route-table')) {
    t.value.virtualHosts.forEach((vh, vi) => checkRoutes(vh, 'route-table', t.name, `virtualHosts[${vi}].`));
  }
  for (const v of of('virtual-host')) {
    const table = tables.get(v.value.routeTable);
    if (table === undefined) reasons.push({ type: 'virtual-host', name: v.name, path: 'routeTable', message: `unknown route table "${v.value.routeTable}"` });
    else if (table.virtualHosts.some((vh) => vh.name === v.name)) reasons.push({ type: 'virtual-host', name: v.name, path: 'name', message: `route table "${v.value.routeTable}" has a virtual host of this name already` });
    checkRoutes(v.value.virtualHost, 'virtual-host', v.name, '');
  }
  for (const c of of('cluster')) {
    const u = c.value.upstreamTls;
    if (u == null) continue;
    (u.caSecrets ?? []).forEach((n, i) => {
      if (!all.has(`secret/${n}`)) reasons.push({ type: 'cluster', name: c.name, path: `upstreamTls.caSecrets[${i}]`, message: `unknown secret "${n}"` });
    });
    const own = u.clientCertificate?.secret;
    if (own !== undefined && !all.has(`secret/${own}`)) reasons.push({ type: 'cluster', name: c.name, path: 'upstreamTls.clientCertificate.secret', message: `unknown secret "${own}"` });
  }
  for (const e of of('endpoint-set')) {
    const c = clusters.get(e.name);
    if (c === undefined) reasons.push({ type: 'endpoint-set', name: e.name, path: '', message: `unknown cluster "${e.name}"` });
    else if (c.type !== 'static') reasons.push({ type: 'endpoint-set', name: e.name, path: '', message: `cluster "${e.name}" is ${c.type}: it has no endpoint list` });
  }
  for (const v of of('outbound-vips')) {
    const table = tables.get(v.value.routeTable);
    if (table === undefined) {
      reasons.push({ type: 'outbound-vips', name: v.name, path: 'routeTable', message: `unknown route table "${v.value.routeTable}"` });
      continue;
    }
    let hosts = hostNames.get(v.value.routeTable);
    if (hosts === undefined) hostNames.set(v.value.routeTable, (hosts = new Set(hostsOf.get(v.value.routeTable)!.map((vh) => vh.name))));
    v.value.vips.forEach((vip, i) => {
      if (!hosts.has(vip.virtualHost)) reasons.push({ type: 'outbound-vips', name: v.name, path: `vips[${i}].virtualHost`, message: `route table "${v.value.routeTable}" has no virtual host "${vip.virtualHost}"` });
    });
  }
  return reasons;
}
