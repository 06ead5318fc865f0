// Each manifests/<part>/ folder installs on its own (`kubectl apply -f manifests/<part>/`): every namespace its objects live in is created by the folder itself.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readManifests } from '../../local-cluster/apply-manifests.ts';

const root = join(import.meta.dirname, '../../manifests');
// Namespaces every cluster has.
const BUILT_IN = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
const parts = readdirSync(root).filter((d) => statSync(join(root, d)).isDirectory());

describe('manifests/<part>/ folders', () => {
  it('there are parts to check', () => {
    expect(parts).toEqual(expect.arrayContaining(['control-plane', 'injector']));
  });
  it.each(parts)('manifests/%s/ creates every namespace its objects are in', (part) => {
    const objects = readManifests(join(root, part));
    const created = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata?.name));
    const used = new Set(objects.map((o) => o.metadata?.namespace).filter((n): n is string => !!n && !BUILT_IN.has(n)));
    expect([...used].filter((n) => !created.has(n))).toEqual([]);
  });
});
