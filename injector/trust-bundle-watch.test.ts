// The injector's view of the trust bundle: absent is '', present is its PEM, a failed read keeps the last value.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TRUST_BUNDLE_KEY } from '../api/mesh/mesh-constants.ts';
import { readTrustBundle, watchTrustBundle, type TrustBundleReader } from './trust-bundle-watch.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const reader = (answers: (() => unknown)[]): TrustBundleReader => {
  let i = 0;
  return { readNamespacedConfigMap: async () => answers[Math.min(i++, answers.length - 1)]!() } as unknown as TrustBundleReader;
};
const notFound = () => {
  throw Object.assign(new Error('HTTP 404'), { code: 404 });
};
const forbidden = () => {
  throw Object.assign(new Error('HTTP 403'), { code: 403 });
};
const bundle = (pem: string) => () => ({ data: { [TRUST_BUNDLE_KEY]: pem } });

afterEach(() => {
  vi.useRealTimers();
});

describe('readTrustBundle', () => {
  it('is empty when the ConfigMap is absent or holds no certificate, the PEM otherwise', async () => {
    expect(await readTrustBundle(reader([notFound]))).toBe('');
    expect(await readTrustBundle(reader([bundle('junk')]))).toBe('');
    expect(await readTrustBundle(reader([bundle(PEM)]))).toBe(PEM);
  });
  it('throws on other failures (the caller keeps what it had)', async () => {
    await expect(readTrustBundle(reader([forbidden]))).rejects.toThrow(/403/);
  });
});

describe('watchTrustBundle', () => {
  it('reports the first value and each change, and keeps the last one through a failed read', async () => {
    vi.useFakeTimers();
    const seen: string[] = [];
    const stop = watchTrustBundle(reader([notFound, bundle(PEM), forbidden, bundle(PEM), bundle(`${PEM}${PEM}`)]), (p) => seen.push(p), () => {}, 1000);
    for (let i = 0; i < 4; i++) await vi.advanceTimersByTimeAsync(1000);
    stop();
    expect(seen).toEqual(['', PEM, `${PEM}${PEM}`]);
  });
});
