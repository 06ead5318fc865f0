// CA bootstrap and reload against an in-memory Secret store with the API server's create semantics (409 when present):
// two replicas racing end up with one root, an existing Secret is never overwritten, a bad edit never replaces a good CA.
import { describe, expect, it } from 'vitest';
import { err, ok, type Result } from '../../api/result.ts';
import { bootstrapCa } from './ca-bootstrap.ts';
import { CaKeeper } from './ca-keeper.ts';
import { CA_SECRET_KEYS, generateRootSecretData, type CaSecretData } from './ca-material.ts';
import type { CaSecretStore, StoredCaSecret } from './ca-secret-store.ts';
import { Registry } from 'prom-client';
import { IdentityMetrics } from './identity-metrics.ts';
import { X509Certificate } from 'node:crypto';

const TD = 'cluster.local';
const NOW = Date.parse('2026-12-06T08:00:00Z');
const now = (): number => NOW;

class MemoryStore implements CaSecretStore {
  secret: StoredCaSecret | null = null;
  creates = 0;
  writes = 0;
  failReads = false;
  #version = 0;
  #readBarrier: { waiting: (() => void)[]; size: number } | null = null;

  /** The next `n` reads all return together, after every one of them has started: the race two replicas can lose. */
  holdReads(n: number): void {
    this.#readBarrier = { waiting: [], size: n };
  }

  put(data: CaSecretData): void {
    this.secret = { data, version: String(++this.#version) };
    this.writes++;
  }

  async read(): Promise<Result<StoredCaSecret | null, string>> {
    const b = this.#readBarrier;
    if (b) {
      const snapshot = this.secret;
      await new Promise<void>((resolve) => {
        b.waiting.push(resolve);
        if (b.waiting.length === b.size) {
          this.#readBarrier = null;
          for (const w of b.waiting) w();
        }
      });
      return ok(snapshot);
    }
    await Promise.resolve();
    if (this.failReads) return err('connection refused');
    return ok(this.secret);
  }

  async create(data: CaSecretData): Promise<Result<'created' | 'exists', string>> {
    await Promise.resolve();
    this.creates++;
    if (this.secret) return ok('exists');
    this.put(data);
    return ok('created');
  }
}

describe('bootstrapCa', () => {
  it('generates a root and creates the Secret on the very first start', async () => {
    const store = new MemoryStore();
    const r = await bootstrapCa(store, { trustDomain: TD, now });
    expect(r).toMatchObject({ ok: true, value: { created: true, version: '1' } });
    expect(store.writes).toBe(1);
    if (r.ok) expect(r.value.material.roots[0]!.raw.equals(new X509Certificate(store.secret!.data[CA_SECRET_KEYS.bundle]!).raw)).toBe(true);
  });

  it('two replicas starting together end up with one root: the loser of the create reads the winner\'s back', async () => {
    const store = new MemoryStore();
    let generated = 0;
    const generate = (td: string, t: number): CaSecretData => {
      generated++;
      return generateRootSecretData(td, t);
    };
    store.holdReads(2);
    const [a, b] = await Promise.all([bootstrapCa(store, { trustDomain: TD, now, generate }), bootstrapCa(store, { trustDomain: TD, now, generate })]);
    expect(generated).toBe(2);
    expect(store.creates).toBe(2);
    expect(store.writes).toBe(1);
    if (!a.ok || !b.ok) throw new Error('bootstrap failed');
    expect([a.value.created, b.value.created].sort()).toEqual([false, true]);
    expect(a.value.material.signingCert.raw.equals(b.value.material.signingCert.raw)).toBe(true);
    expect(a.value.material.signingCert.raw.equals(new X509Certificate(store.secret!.data[CA_SECRET_KEYS.chain]!).raw)).toBe(true);
  });

  it('never overwrites an existing Secret, valid or not', async () => {
    const store = new MemoryStore();
    store.put(generateRootSecretData(TD, NOW));
    const before = store.secret;
    const r = await bootstrapCa(store, { trustDomain: TD, now, generate: () => { throw new Error('must not generate'); } });
    expect(r).toMatchObject({ ok: true, value: { created: false } });
    expect(store.secret).toBe(before);

    const broken = new MemoryStore();
    broken.put({ [CA_SECRET_KEYS.key]: 'junk' });
    const kept = broken.secret;
    const bad = await bootstrapCa(broken, { trustDomain: TD, now, generate: () => { throw new Error('must not generate'); } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'SKEIN_ERR_CP_CA_INVALID' } });
    expect(broken.secret).toBe(kept);
    expect(broken.creates).toBe(0);
  });

  it('a store that cannot be read is SKEIN_ERR_CP_CA_STORE, and nothing is created', async () => {
    const store = new MemoryStore();
    store.failReads = true;
    expect(await bootstrapCa(store, { trustDomain: TD, now })).toMatchObject({ ok: false, error: { code: 'SKEIN_ERR_CP_CA_STORE' } });
    expect(store.creates).toBe(0);
  });
});

describe('CaKeeper.reload', () => {
  async function keeper(): Promise<{ k: CaKeeper; store: MemoryStore; registry: Registry }> {
    const store = new MemoryStore();
    const registry = new Registry();
    const r = await CaKeeper.start({ store, trustDomain: TD, now, metrics: new IdentityMetrics(registry) });
    if (!r.ok) throw r.error;
    return { k: r.value, store, registry };
  }

  it('keeps the CA while the Secret is unchanged', async () => {
    const { k } = await keeper();
    const ca = k.current();
    expect(await k.reload()).toBe('unchanged');
    expect(k.current()).toBe(ca);
  });

  it('picks up an edited Secret (a second root added to the bundle, then a new signing root)', async () => {
    const { k, store, registry } = await keeper();
    const old = store.secret!.data;
    const next = generateRootSecretData(TD, NOW);
    store.put({ ...old, [CA_SECRET_KEYS.bundle]: old[CA_SECRET_KEYS.bundle]! + next[CA_SECRET_KEYS.bundle]! });
    expect(await k.reload()).toBe('reloaded');
    expect(k.current().trustBundlePem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const oldFingerprint = k.current().fingerprint;
    store.put({ ...next, [CA_SECRET_KEYS.bundle]: old[CA_SECRET_KEYS.bundle]! + next[CA_SECRET_KEYS.bundle]! });
    expect(await k.reload()).toBe('reloaded');
    expect(k.current().fingerprint).not.toBe(oldFingerprint);
    expect(await registry.getSingleMetricAsString('skein_cp_ca_reloads_total')).toContain('result="reloaded"} 2');
  });

  it('refuses an unusable edit whole and keeps signing with the last good CA', async () => {
    const { k, store, registry } = await keeper();
    const ca = k.current();
    store.put({ ...store.secret!.data, [CA_SECRET_KEYS.key]: generateRootSecretData(TD, NOW)[CA_SECRET_KEYS.key]! });
    expect(await k.reload()).toBe('refused');
    expect(k.current()).toBe(ca);
    store.failReads = true;
    expect(await k.reload()).toBe('unreadable');
    expect(k.current()).toBe(ca);
    const text = await registry.getSingleMetricAsString('skein_cp_ca_reloads_total');
    expect(text).toContain('result="refused"} 1');
    expect(text).toContain('result="unreadable"} 1');
  });
});
