// Builds a ProxySnapshot from resource bodies: versions are content hashes, so every replica gives the same versions.
import { createHash } from 'node:crypto';
import { resourceKey, type WireResource } from '../../api/proto/config-discovery.ts';
import type { ProxySnapshot } from './snapshot-source.ts';

export interface ResourceBody {
  readonly type: string;
  readonly name: string;
  /** JSON-serialisable document; serialised once here, never per push. */
  readonly body: unknown;
}

function hash(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

export function wireResource(r: ResourceBody): WireResource {
  const json = JSON.stringify(r.body);
  return { type: r.type, name: r.name, version: hash(json), body: Buffer.from(json) };
}

/**
 * `intern`: given each resource, answers the one instance to keep of that key and version, so that snapshots of many scopes
 * (and of successive generations) hold one body per distinct resource rather than one each.
 */
export function makeSnapshot(resources: readonly (ResourceBody | WireResource)[], intern?: (w: WireResource) => WireResource): ProxySnapshot {
  const map = new Map<string, WireResource>();
  for (const r of resources) {
    const made = 'version' in r && r.body instanceof Uint8Array ? (r as WireResource) : wireResource(r as ResourceBody);
    const w = intern === undefined ? made : intern(made);
    map.set(resourceKey(w), w);
  }
  const keys = [...map.keys()].sort();
  const version = hash(keys.map((k) => `${k}@${map.get(k)!.version}`).join('\n'));
  return { version, resources: map };
}
