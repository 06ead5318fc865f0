// The virtual hosts of each route table in a resource set: the table's own, then its `virtual-host` resources by name.
import type { ParsedResource } from '../../api/config/config-resources.ts';
import type { VirtualHostConfig } from '../../api/config/proxy-config.ts';

type Named = ParsedResource & { readonly name: string };

/**
 * Table name -> its virtual hosts, for every `route-table` of the set. The order is fixed (the table's own first, then the
 * `virtual-host` resources sorted by name) so that a set gives the same routing however its resources arrived. Virtual
 * hosts naming a table the set does not hold are left out (the store refuses such a set).
 */
export function routeTableHosts(all: ReadonlyMap<string, Named>): Map<string, VirtualHostConfig[]> {
  const out = new Map<string, VirtualHostConfig[]>();
  const extra: Extract<Named, { type: 'virtual-host' }>[] = [];
  for (const r of all.values()) {
    if (r.type === 'route-table') out.set(r.name, [...r.value.virtualHosts]);
    else if (r.type === 'virtual-host') extra.push(r);
  }
  extra.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const v of extra) out.get(v.value.routeTable)?.push(v.value.virtualHost);
  return out;
}

/** The route tables a change touches through its `virtual-host` resources (added, changed or removed). */
export function tablesOfChangedHosts(changed: ReadonlySet<string>, before: ReadonlyMap<string, Named>, after: ReadonlyMap<string, Named>): Set<string> {
  const out = new Set<string>();
  for (const key of changed) {
    if (!key.startsWith('virtual-host/')) continue;
    for (const r of [before.get(key), after.get(key)]) if (r?.type === 'virtual-host') out.add(r.value.routeTable);
  }
  return out;
}
