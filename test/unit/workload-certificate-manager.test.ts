// The certificate manager's schedule, driven by a manual clock: renewal at half the lifetime with jitter, backoff that
// grows and never sleeps past the expiry, a bad answer from the CA refused, rotation announced to listeners.
import { describe, expect, it } from 'vitest';
import { spiffeId } from '../../api/proto/identity.ts';
import { identityMetrics } from '../../proxy/identity/identity-metrics.ts';
import { CertifyFailure, WorkloadCertificateManager } from '../../proxy/identity/workload-certificate-manager.ts';
import { ProxyMetrics } from '../../proxy/telemetry/proxy-metrics.ts';
import { ManualClock, TestCa } from '../support/mesh-identity-fixture.ts';

const WEB = spiffeId('cluster.local', 'demo', 'web');

function setup(ca: TestCa, random = () => 0.5) {
  const clock = new ManualClock();
  const metrics = new ProxyMetrics();
  const m = new WorkloadCertificateManager({ identity: WEB, certify: ca.certify, token: async () => 't', metrics: identityMetrics(metrics.registry), log: () => {}, clock, random, backoffBaseMs: 1_000, backoffMaxMs: 60_000 });
  const timer = () => [...clock.pending.values()].map((t) => t.ms);
  const fire = async () => {
    const [id, t] = [...clock.pending.entries()][0]!;
    clock.pending.delete(id);
    t.fn();
    await m.renewNow();
  };
  return { m, clock, metrics, timer, fire };
}

describe('WorkloadCertificateManager', () => {
  it('renews at half the lifetime it has from its arrival, spread by the jitter', async () => {
    const ca = new TestCa();
    ca.ttlMs = 3600_000;
    for (const [random, share] of [[0.5, 0.5], [0, 0.45], [1, 0.55]] as const) {
      const { m, timer } = setup(ca, () => random);
      await m.renewNow();
      const t = m.current()!;
      const expected = (t.notAfterMs - Date.now()) * share;
      expect(timer()).toHaveLength(1);
      expect(Math.abs(timer()[0]! - expected)).toBeLessThan(2_000);
      m.stop();
    }
  });

  it('a short-lived certificate whose notBefore the CA backdated (5 min) is renewed at half its 60 s, not at once', async () => {
    const ca = new TestCa();
    ca.ttlMs = 60_000;
    const { m, timer } = setup(ca);
    await m.renewNow();
    const t = m.current()!;
    expect(Date.now() - t.notBeforeMs).toBeGreaterThan(200_000);
    expect(timer()).toHaveLength(1);
    expect(Math.abs(timer()[0]! - 30_000)).toBeLessThan(2_000);
    m.stop();
  });

  it('a renewal installs a new version and tells the listeners', async () => {
    const ca = new TestCa();
    const { m, fire } = setup(ca);
    const seen: string[] = [];
    m.onRotate((t) => seen.push(t.version));
    await m.renewNow();
    await fire();
    expect(seen).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
    expect(m.current()!.version).toBe(seen[1]);
  });

  it('backs off on failure, doubling up to the cap, and keeps the certificate in use', async () => {
    const ca = new TestCa();
    const { m, timer, fire, metrics } = setup(ca, () => 1);
    await m.renewNow();
    const installed = m.current();
    ca.failWith = new CertifyFailure('unavailable', 'UNAVAILABLE: away');
    await fire();
    expect(m.current()).toBe(installed);
    const delays: number[] = [timer()[0]!];
    for (let i = 0; i < 8; i++) {
      await fire();
      delays.push(timer()[0]!);
    }
    expect(delays.slice(0, 5)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    // Capped at a quarter of the remaining lifetime (10 min leaf: 150 s), then at backoffMaxMs.
    expect(Math.max(...delays)).toBeLessThanOrEqual(60_000);
    expect(await metrics.registry.getSingleMetricAsString('skein_workload_cert_failures_total')).toMatch(/reason="unavailable"} 9/);
    ca.failWith = null;
    await fire();
    expect(m.current()).not.toBe(installed);
  });

  it('refuses an answer that is not for our key or identity', async () => {
    const ca = new TestCa();
    const other = ca.issueWithKey(spiffeId('cluster.local', 'demo', 'other'));
    const clock = new ManualClock();
    const metrics = new ProxyMetrics();
    const m = new WorkloadCertificateManager({
      identity: WEB,
      certify: async () => ({ certificateChainPem: other.certPem, trustBundlePem: ca.bundlePem, validUntil: '' }),
      token: async () => 't',
      metrics: identityMetrics(metrics.registry),
      log: () => {},
      clock,
    });
    await m.renewNow();
    expect(m.current()).toBeNull();
    expect(m.notReadyReason()).toMatch(/invalid-response: the certificate is not for our key/);
  });

  it('a token that cannot be read is its own reason', async () => {
    const ca = new TestCa();
    const metrics = new ProxyMetrics();
    const m = new WorkloadCertificateManager({ identity: WEB, certify: ca.certify, token: async () => Promise.reject(new Error('ENOENT')), metrics: identityMetrics(metrics.registry), log: () => {}, clock: new ManualClock() });
    await m.renewNow();
    expect(m.notReadyReason()).toMatch(/token: ENOENT/);
  });
});
