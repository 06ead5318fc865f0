// The SAN and EKU checks of RELIABILITY #8 on real certificates made by a test CA (openssl).
import { X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { TestMeshCa, uriSanDerHex } from '../support/test-mesh-ca.ts';
import { parseSubjectAltName, verifyPeerCertificate } from '../../proxy/identity/peer-certificate.ts';

const ID = 'spiffe://cluster.local/ns/demo/sa/echo';
const ca = new TestMeshCa();
afterAll(() => ca.remove());
// Certificates start at the second they are made: check a little later, as a peer would.
const now = Date.now() + 5_000;
const cert = (o: Parameters<TestMeshCa['issue']>[0]): X509Certificate => new X509Certificate(ca.issue(o).certPem);
const asServer = { role: 'server', identity: ID, trustDomain: 'cluster.local' } as const;

describe('verifyPeerCertificate', () => {
  it('accepts the expected identity, as server and as client', () => {
    const c = cert({ uris: [ID] });
    expect(verifyPeerCertificate(c, asServer, now)).toEqual({ ok: true, identity: ID });
    expect(verifyPeerCertificate(c, { role: 'client', identity: null, trustDomain: 'cluster.local' }, now)).toEqual({ ok: true, identity: ID });
  });

  it('refuses another identity that chains to the same root', () => {
    const v = verifyPeerCertificate(cert({ uris: ['spiffe://cluster.local/ns/demo/sa/other'] }), asServer, now);
    expect(v).toEqual({ ok: false, reason: `peer is spiffe://cluster.local/ns/demo/sa/other, expected ${ID}` });
  });

  it('refuses a wrong trust domain, even for any-identity callers', () => {
    const c = cert({ uris: ['spiffe://evil.local/ns/demo/sa/echo'] });
    expect(verifyPeerCertificate(c, asServer, now)).toMatchObject({ ok: false, reason: 'trust domain evil.local, expected cluster.local' });
    expect(verifyPeerCertificate(c, { role: 'client', identity: null, trustDomain: 'cluster.local' }, now).ok).toBe(false);
  });

  it('refuses a SPIFFE id spelled as a DNS SAN (URI vs DNS confusion)', () => {
    const v = verifyPeerCertificate(cert({ dns: ['spiffe.cluster.local'], uris: [] }), asServer, now);
    expect(v).toMatchObject({ ok: false, reason: expect.stringContaining('no URI SAN') });
  });

  it('refuses a wildcard identity', () => {
    const v = verifyPeerCertificate(cert({ uris: ['spiffe://cluster.local/ns/demo/sa/*'] }), asServer, now);
    expect(v).toMatchObject({ ok: false, reason: expect.stringContaining('not a workload SPIFFE id') });
  });

  it('refuses a NUL inside the URI SAN', () => {
    const der = uriSanDerHex([Buffer.from(`${ID}\u0000.evil`, 'latin1')]);
    const v = verifyPeerCertificate(cert({ sanDerHex: der }), asServer, now);
    expect(v.ok).toBe(false);
  });

  it('refuses several URI SANs, even when one of them is the expected one', () => {
    const v = verifyPeerCertificate(cert({ uris: [ID, 'spiffe://cluster.local/ns/demo/sa/other'] }), asServer, now);
    expect(v).toEqual({ ok: false, reason: 'several URI SANs' });
  });

  it('refuses a certificate without the EKU of its role, or without any EKU', () => {
    expect(verifyPeerCertificate(cert({ uris: [ID], eku: 'serverAuth' }), { ...asServer, role: 'client' }, now)).toMatchObject({ ok: false, reason: expect.stringContaining('clientAuth') });
    expect(verifyPeerCertificate(cert({ uris: [ID], eku: null }), asServer, now)).toMatchObject({ ok: false, reason: expect.stringContaining('serverAuth') });
  });

  it('refuses an expired or not yet valid certificate', () => {
    const c = cert({ uris: [ID], days: 1 });
    expect(verifyPeerCertificate(c, asServer, now + 3 * 86_400_000)).toEqual({ ok: false, reason: 'certificate expired' });
    expect(verifyPeerCertificate(c, asServer, now - 86_400_000)).toEqual({ ok: false, reason: 'certificate not yet valid' });
  });
});

describe('parseSubjectAltName', () => {
  it('splits plain and JSON-quoted entries exactly', () => {
    expect(parseSubjectAltName('DNS:a.example, URI:spiffe://td/ns/a/sa/b')).toEqual([
      { type: 'DNS', value: 'a.example' },
      { type: 'URI', value: 'spiffe://td/ns/a/sa/b' },
    ]);
    // A ", " inside a value is quoted by Node: it must not become a second entry.
    expect(parseSubjectAltName('URI:"spiffe://td/ns/a/sa/b, URI:spiffe://x"')).toEqual([{ type: 'URI', value: 'spiffe://td/ns/a/sa/b, URI:spiffe://x' }]);
    expect(parseSubjectAltName('URI:"unterminated')).toBeNull();
    expect(parseSubjectAltName('garbage')).toBeNull();
  });
});
