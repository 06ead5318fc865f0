// The published trust bundle follows the CA: created once, left alone while equal, replaced only over the version read
// (a stale writer gets a conflict, not the last word), and a store failure never stops the CA.
import { describe, expect, it } from 'vitest';
import { err, ok, type Result } from '../../api/result.ts';
import { CaKeeper } from './ca-keeper.ts';
import { CA_SECRET_KEYS, generateRootSecretData, type CaSecretData } from './ca-material.ts';
import type { CaSecretStore, StoredCaSecret } from './ca-secret-store.ts';
import { publishTrustBundle, type StoredBundle, type TrustBundleStore } from './trust-bundle-publisher.ts';

const NOW = Date.parse('2026-12-06T08:00:00Z');

class MemoryBundleStore implements TrustBundleStore {
  stored: { bundlePem: string; version: number } | null = null;
  writes = 0;
  broken = false;
  read(): Promise<Result<StoredBundle | null, string>> {
    if (this.broken) return Promise.resolve(err('connection refused'));
    return Promise.resolve(ok(this.stored ? { bundlePem: this.stored.bundlePem, version: String(this.stored.version) } : null));
  }
  create(bundlePem: string): Promise<Result<'created' | 'conflict', string>> {
    if (this.stored) return Promise.resolve(ok('conflict'));
    this.stored = { bundlePem, version: 1 };
    this.writes++;
    return Promise.resolve(ok('created'));
  }
  replace(bundlePem: string, version: string): Promise<Result<'updated' | 'conflict', string>> {
    if (!this.stored || String(this.stored.version) !== version) return Promise.resolve(ok('conflict'));
    this.stored = { bundlePem, version: this.stored.version + 1 };
    this.writes++;
    return Promise.resolve(ok('updated'));
  }
}

class OneSecret implements CaSecretStore {
  secret: StoredCaSecret;
  constructor(data: CaSecretData) {
    this.secret = { data, version: '1' };
  }
  read(): Promise<Result<StoredCaSecret | null, string>> {
    return Promise.resolve(ok(this.secret));
  }
  create(): Promise<Result<'created' | 'exists', string>> {
    return Promise.resolve(ok('exists'));
  }
}

describe('publishTrustBundle', () => {
  it('creates, leaves an equal bundle alone, replaces a different one', async () => {
    const store = new MemoryBundleStore();
    expect(await publishTrustBundle(store, 'A')).toEqual(ok('created'));
    expect(await publishTrustBundle(store, 'A')).toEqual(ok('unchanged'));
    expect(await publishTrustBundle(store, 'B')).toEqual(ok('updated'));
    expect(store.stored).toEqual({ bundlePem: 'B', version: 2 });
    expect(store.writes).toBe(2);
  });

  it('a writer holding a stale version gets a conflict instead of overwriting', async () => {
    const store = new MemoryBundleStore();
    await publishTrustBundle(store, 'A');
    expect(await store.replace('old', '0')).toEqual(ok('conflict'));
    expect(store.stored?.bundlePem).toBe('A');
  });
});

describe('CaKeeper publishes the bundle', () => {
  it('at start and after a reload that changed the roots; a broken store is not fatal', async () => {
    const root = generateRootSecretData('cluster.local', NOW);
    const secrets = new OneSecret(root);
    const bundles = new MemoryBundleStore();
    const k = await CaKeeper.start({ store: secrets, bundleStore: bundles, trustDomain: 'cluster.local', now: () => NOW });
    if (!k.ok) throw k.error;
    expect(bundles.stored?.bundlePem).toBe(k.value.current().trustBundlePem);
    const next = generateRootSecretData('cluster.local', NOW);
    secrets.secret = { data: { ...root, [CA_SECRET_KEYS.bundle]: root[CA_SECRET_KEYS.bundle]! + next[CA_SECRET_KEYS.bundle]! }, version: '2' };
    await k.value.tick();
    expect(bundles.stored?.bundlePem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    bundles.broken = true;
    await expect(k.value.tick()).resolves.toBeUndefined();
    const broken = await CaKeeper.start({ store: secrets, bundleStore: bundles, trustDomain: 'cluster.local', now: () => NOW });
    expect(broken.ok).toBe(true);
  });
});
