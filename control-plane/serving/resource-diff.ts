// What a proxy that holds `known` (key -> version) must receive to hold `snapshot`: changed resources and removals.
import type { ResourceRef, WireResource } from '../../api/proto/config-discovery.ts';
import type { ProxySnapshot } from './snapshot-source.ts';

export interface ResourceDelta {
  readonly changed: readonly WireResource[];
  readonly removed: readonly ResourceRef[];
}

export function resourceDelta(known: ReadonlyMap<string, string>, snapshot: ProxySnapshot): ResourceDelta {
  const changed: WireResource[] = [];
  const removed: ResourceRef[] = [];
  for (const [key, r] of snapshot.resources) if (known.get(key) !== r.version) changed.push(r);
  for (const key of known.keys()) {
    if (snapshot.resources.has(key)) continue;
    const slash = key.indexOf('/');
    removed.push(slash < 0 ? { type: key, name: '' } : { type: key.slice(0, slash), name: key.slice(slash + 1) });
  }
  return { changed, removed };
}
