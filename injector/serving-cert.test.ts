// Certificates: the leaf chains to the CA with the service names; rotation trusts before it serves; caBundle merging.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueServingCertificate, mergeCaBundle, splitPemBundle } from './serving-cert.ts';
import { ServingCertManager } from './serving-cert-manager.ts';

const HOUR = 3600_000;

describe('serving certificates', () => {
  it('the leaf is signed by the CA, names the service DNS names and is for server auth', () => {
    const ca = createCertificateAuthority({ commonName: 'ca', validityMs: HOUR });
    const leaf = issueServingCertificate(ca, { dnsNames: ['skein-injector.skein-system.svc', 'skein-injector.skein-system.svc.cluster.local'], ipAddresses: ['127.0.0.1'], validityMs: HOUR / 2 });
    const x = new X509Certificate(leaf.certPem);
    expect(x.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(x.subjectAltName).toContain('DNS:skein-injector.skein-system.svc');
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x.ca).toBe(false);
    expect(new X509Certificate(ca.certPem).ca).toBe(true);
    expect(x.keyUsage).toContain('1.3.6.1.5.5.7.3.1');
  });
  it('a leaf never outlives its CA', () => {
    const ca = createCertificateAuthority({ commonName: 'ca', validityMs: HOUR });
    const leaf = issueServingCertificate(ca, { dnsNames: ['x'], validityMs: 10 * HOUR });
    expect(leaf.notAfter.getTime()).toBeLessThanOrEqual(ca.notAfter.getTime());
  });
});

describe('mergeCaBundle', () => {
  it('puts ours first, keeps other valid CAs, drops expired ones and duplicates', () => {
    const now = Date.now();
    const ours = createCertificateAuthority({ commonName: 'ours', validityMs: HOUR });
    const other = createCertificateAuthority({ commonName: 'other-replica', validityMs: HOUR });
    const expired = createCertificateAuthority({ commonName: 'old', validityMs: 1000, now: now - 10 * HOUR });
    const existing = Buffer.from([other.certPem, expired.certPem, ours.certPem, 'not a cert'].join('\n')).toString('base64');
    const merged = splitPemBundle(Buffer.from(mergeCaBundle(existing, [ours.certPem], now), 'base64').toString());
    expect(merged.map((c) => c.subject)).toEqual(['CN=ours\nO=skein', 'CN=other-replica\nO=skein']);
  });
  it('works without an existing bundle', () => {
    const ours = createCertificateAuthority({ commonName: 'ours', validityMs: HOUR });
    expect(splitPemBundle(Buffer.from(mergeCaBundle(undefined, [ours.certPem]), 'base64').toString())).toHaveLength(1);
  });
});

describe('ServingCertManager', () => {
  it('reissues the leaf when due, from the same CA (no bundle change)', async () => {
    let now = Date.now();
    const m = new ServingCertManager({ dnsNames: ['x'], caValidityMs: 100 * HOUR, leafValidityMs: 3 * HOUR, now: () => now });
    const first = m.material();
    expect(m.pendingRotation()).toBe('none');
    now += 2.2 * HOUR;
    expect(m.pendingRotation()).toBe('leaf');
    const installed: string[] = [];
    const published: string[][] = [];
    await m.rotate((l) => installed.push(l.serial), async (p) => { published.push([...p]); });
    expect(installed).toHaveLength(1);
    expect(installed[0]).not.toBe(first.leaf.serial);
    expect(published).toHaveLength(0);
    expect(m.material().trustedCaPems).toEqual(first.trustedCaPems);
  });
  it('rolls the CA: publishes new+old before serving a leaf from the new CA', async () => {
    let now = Date.now();
    const m = new ServingCertManager({ dnsNames: ['x'], caValidityMs: 10 * HOUR, leafValidityMs: 1 * HOUR, now: () => now });
    const oldCa = m.material().trustedCaPems[0]!;
    now += 7 * HOUR;
    expect(m.pendingRotation()).toBe('ca');
    const events: string[] = [];
    let publishedBundle: readonly string[] = [];
    await m.rotate(
      (leaf) => {
        events.push('install');
        // The leaf being installed chains to a CA the API server was already told to trust.
        const issuer = publishedBundle.map((p) => new X509Certificate(p)).find((c) => new X509Certificate(leaf.certPem).verify(c.publicKey));
        expect(issuer).toBeDefined();
      },
      async (pems) => {
        events.push('publish');
        publishedBundle = pems;
      },
    );
    expect(events).toEqual(['publish', 'install']);
    expect(publishedBundle).toHaveLength(2);
    expect(publishedBundle[1]).toBe(oldCa);
    expect(m.material().trustedCaPems).toEqual(publishedBundle);
  });
  it('a failed publish leaves the old certificate in service', async () => {
    let now = Date.now();
    const m = new ServingCertManager({ dnsNames: ['x'], caValidityMs: 10 * HOUR, leafValidityMs: HOUR, now: () => now });
    const before = m.material().leaf.serial;
    now += 8 * HOUR;
    await expect(m.rotate(() => { throw new Error('must not install'); }, async () => { throw new Error('api down'); })).rejects.toThrow('api down');
    expect(m.material().leaf.serial).toBe(before);
  });
});
