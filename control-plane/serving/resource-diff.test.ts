// Deltas between what a proxy holds and its snapshot; snapshot versions are content hashes.
import { describe, expect, it } from 'vitest';
import { makeSnapshot } from './proxy-snapshot.ts';
import { resourceDelta } from './resource-diff.ts';

describe('resourceDelta and makeSnapshot', () => {
  const snap = makeSnapshot([
    { type: 'cluster', name: 'echo', body: { a: 1 } },
    { type: 'route-table', name: 'outbound', body: { routes: [] } },
  ]);

  it('sends everything to a proxy that holds nothing', () => {
    const d = resourceDelta(new Map(), snap);
    expect(d.changed.map((r) => `${r.type}/${r.name}`).sort()).toEqual(['cluster/echo', 'route-table/outbound']);
    expect(d.removed).toEqual([]);
  });

  it('sends only what changed, and names what went away', () => {
    const known = new Map([...snap.resources].map(([k, r]) => [k, r.version]));
    known.set('cluster/gone', 'x');
    const next = makeSnapshot([
      { type: 'cluster', name: 'echo', body: { a: 2 } },
      { type: 'route-table', name: 'outbound', body: { routes: [] } },
    ]);
    const d = resourceDelta(known, next);
    expect(d.changed.map((r) => r.name)).toEqual(['echo']);
    expect(d.removed).toEqual([{ type: 'cluster', name: 'gone' }]);
  });

  it('gives the same versions for the same content, whatever the order (replicas agree)', () => {
    const again = makeSnapshot([
      { type: 'route-table', name: 'outbound', body: { routes: [] } },
      { type: 'cluster', name: 'echo', body: { a: 1 } },
    ]);
    expect(again.version).toBe(snap.version);
    expect(makeSnapshot([{ type: 'cluster', name: 'echo', body: { a: 3 } }]).version).not.toBe(snap.version);
  });
});
