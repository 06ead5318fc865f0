// Unit tests of manifest reading and apply order (namespaces and identities before workloads, webhooks last).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inApplyOrder, readManifests } from './apply-manifests.ts';

describe('manifests', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-manifests-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a-deploy.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ns}\n');
  writeFileSync(
    join(dir, 'b-rest.yml'),
    [
      'apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {name: w}',
      '# only a comment',
      'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: ns}',
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}',
    ].join('\n---\n'),
  );
  writeFileSync(join(dir, 'notes.txt'), 'kind: Namespace');

  it('reads every document of the folder\'s YAML files, skipping empty ones and other files', () => {
    expect(readManifests(dir).map((o) => o.kind)).toEqual(['Deployment', 'MutatingWebhookConfiguration', 'ServiceAccount', 'Namespace']);
    expect(readManifests(join(dir, 'a-deploy.yaml')).map((o) => o.metadata?.name)).toEqual(['d']);
    expect(readManifests(join(dir, 'missing'))).toEqual([]);
  });

  it('applies namespaces, then identities, then workloads, then webhook registrations', () => {
    expect(inApplyOrder(readManifests(dir)).map((o) => o.kind)).toEqual(['Namespace', 'ServiceAccount', 'Deployment', 'MutatingWebhookConfiguration']);
  });
});
