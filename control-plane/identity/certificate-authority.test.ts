// The CA: a generated root, a user's intermediate (made with openssl, as docs/identity.md tells users to), the leaves it
// signs (read back by node:crypto and verified by OpenSSL for both TLS purposes), and every bad Secret refused whole.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateWorkloadKey } from '../../api/identity/pkcs10.ts';
import { CA_SECRET_KEYS, generateRootSecretData, loadCaMaterial, type CaMaterial, type CaSecretData } from './ca-material.ts';
import { CertificateAuthority, CLOCK_SKEW_BACKDATE_MS } from './certificate-authority.ts';

const ID = 'spiffe://cluster.local/ns/shop/sa/checkout';
const NOW = Date.parse('2026-12-06T08:00:00Z');
const dir = mkdtempSync(join(tmpdir(), 'skein-ca-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function material(data: CaSecretData, now = NOW): CaMaterial {
  const r = loadCaMaterial(data, now);
  if (!r.ok) throw new Error(r.error.join('; '));
  return r.value;
}

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function spki(): Buffer {
  return generateWorkloadKey().publicKey.export({ type: 'spki', format: 'der' });
}

describe('a generated root', () => {
  const data = generateRootSecretData('cluster.local', NOW);
  const ca = new CertificateAuthority(material(data));
  const root = new X509Certificate(data[CA_SECRET_KEYS.bundle]!);

  it('is a self-signed ECDSA P-256 CA that signs leaves', () => {
    expect(root.ca).toBe(true);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(root.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(ca.trustBundlePem).toBe(root.toString());
  });

  it('issues a SPIFFE leaf: empty subject, the id as the only and critical URI SAN, EKU server+client, CA:FALSE, 24 h backdated', () => {
    const leafPem = ca.issueWorkload(spki(), ID, Date.now()).certificateChainPem;
    const leaf = new X509Certificate(leafPem);
    expect(leaf.subject ?? '').toBe(''); // node:crypto reports an empty subject as undefined
    expect(leaf.subjectAltName).toBe(`URI:${ID}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(leaf.checkIssued(root) && leaf.verify(root.publicKey)).toBe(true);
    writeFileSync(join(dir, 'root.pem'), ca.trustBundlePem);
    writeFileSync(join(dir, 'leaf.pem'), leafPem);
    const text = openssl('x509', '-in', 'leaf.pem', '-noout', '-text');
    expect(text).toMatch(/X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/checkout\s/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\s/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toContain('X509v3 Authority Key Identifier');
    for (const purpose of ['sslclient', 'sslserver']) expect(openssl('verify', '-purpose', purpose, '-CAfile', 'root.pem', 'leaf.pem')).toContain('leaf.pem: OK');
  });

  it('dates a leaf from five minutes back to its lifetime ahead (configurable), never past the CA', () => {
    const leaf = new X509Certificate(ca.issueWorkload(spki(), ID, NOW).certificateChainPem);
    expect(Date.parse(leaf.validFrom)).toBe(NOW - CLOCK_SKEW_BACKDATE_MS);
    expect(Date.parse(leaf.validTo)).toBe(NOW + 24 * 3600_000);
    const hour = ca.issueWorkload(spki(), ID, NOW, 3600_000);
    expect(Date.parse(new X509Certificate(hour.certificateChainPem).validTo)).toBe(NOW + 3600_000);
    expect(hour.notAfter.getTime()).toBe(NOW + 3600_000);
    // The reported expiry is the certificate's, to the second, whatever the milliseconds of the clock.
    const odd = ca.issueWorkload(spki(), ID, NOW + 999, 3600_000);
    expect(odd.notAfter.getTime()).toBe(Date.parse(new X509Certificate(odd.certificateChainPem).validTo));
    const forever = new X509Certificate(ca.issueWorkload(spki(), ID, NOW, 100 * 365 * 86_400_000).certificateChainPem);
    expect(forever.validTo).toBe(root.validTo);
  });

  it('gives every leaf a fresh 16-byte serial that never starts with a zero byte (minimal DER; Go refuses the rest)', () => {
    const key = spki();
    const serials = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const s = new X509Certificate(ca.issueWorkload(key, ID, NOW).certificateChainPem).serialNumber;
      expect(s).toMatch(/^[0-9A-F]{32}$/);
      expect(s.slice(0, 2)).not.toBe('00');
      serials.add(s);
    }
    expect(serials.size).toBe(1000);
  });

  it('issues its own serving certificate for DNS names', () => {
    const s = ca.issueServing(['skein-control-plane.skein-system.svc'], NOW, 86_400_000);
    const cert = new X509Certificate(s.certChainPem);
    expect(cert.subjectAltName).toBe('DNS:skein-control-plane.skein-system.svc');
    expect(cert.checkHost('skein-control-plane.skein-system.svc')).toBe('skein-control-plane.skein-system.svc');
    expect(cert.checkPrivateKey(createPrivateKey(s.keyPem))).toBe(true);
  });
});

describe('bring your own root: an intermediate made with openssl', () => {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'user-root.key', '-out', 'user-root.crt',
    '-subj', '/O=acme/CN=acme root', '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'int.key', '-out', 'int.csr', '-subj', '/O=acme/CN=skein intermediate');
  writeFileSync(join(dir, 'int.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  openssl('x509', '-req', '-in', 'int.csr', '-CA', 'user-root.crt', '-CAkey', 'user-root.key', '-CAcreateserial', '-days', '365', '-extfile', 'int.ext', '-out', 'int.crt');
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  const data = { [CA_SECRET_KEYS.key]: read('int.key'), [CA_SECRET_KEYS.chain]: read('int.crt'), [CA_SECRET_KEYS.bundle]: read('user-root.crt') };

  it('signs leaves whose chain carries the intermediate and verifies up to the user\'s root', () => {
    const ca = new CertificateAuthority(material(data, Date.now()));
    const chain = ca.issueWorkload(spki(), ID, Date.now()).certificateChainPem;
    expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(ca.trustBundlePem).toBe(new X509Certificate(read('user-root.crt')).toString());
    writeFileSync(join(dir, 'chain.pem'), chain);
    writeFileSync(join(dir, 'leaf-only.pem'), new X509Certificate(chain).toString());
    expect(openssl('verify', '-purpose', 'sslclient', '-CAfile', 'user-root.crt', '-untrusted', 'chain.pem', 'leaf-only.pem')).toContain('OK');
  });

  it('accepts the root appended to tls.crt (it is not sent with leaves)', () => {
    const m = material({ ...data, [CA_SECRET_KEYS.chain]: read('int.crt') + read('user-root.crt') }, Date.now());
    expect(m.intermediates).toHaveLength(1);
  });

  it('refuses an intermediate whose root is not in ca.crt, and a key that is not the intermediate\'s', () => {
    const other = generateRootSecretData('cluster.local', Date.now());
    const a = loadCaMaterial({ ...data, [CA_SECRET_KEYS.bundle]: other[CA_SECRET_KEYS.bundle]! }, Date.now());
    expect(a).toMatchObject({ ok: false, error: ['tls.crt does not lead to a root of ca.crt'] });
    const b = loadCaMaterial({ ...data, [CA_SECRET_KEYS.key]: other[CA_SECRET_KEYS.key]! }, Date.now());
    expect(b).toMatchObject({ ok: false, error: ['tls.key does not belong to the first certificate of tls.crt'] });
  });
});

describe('loadCaMaterial refuses a bad Secret whole', () => {
  const good = generateRootSecretData('cluster.local', NOW);

  it.each([
    ['missing keys', {}, /tls.key is missing/],
    ['an unreadable key', { ...good, [CA_SECRET_KEYS.key]: 'junk' }, /not a readable private key/],
    ['no certificate', { ...good, [CA_SECRET_KEYS.chain]: 'junk' }, /tls.crt: no PEM certificate/],
    ['a corrupt certificate', { ...good, [CA_SECRET_KEYS.bundle]: '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----' }, /ca.crt: certificate 1 is unreadable/],
  ])('%s', (_name, data, problem) => {
    const r = loadCaMaterial(data as CaSecretData, NOW);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.join('\n')).toMatch(problem);
  });

  it('an expired or not yet valid signing certificate', () => {
    expect(loadCaMaterial(good, NOW + 11 * 365 * 86_400_000)).toMatchObject({ ok: false, error: [expect.stringMatching(/not valid now/)] });
    expect(loadCaMaterial(good, NOW - 2 * 3600_000)).toMatchObject({ ok: false, error: [expect.stringMatching(/not valid now/)] });
  });

  it('a leaf in place of the CA certificate', () => {
    const ca = new CertificateAuthority(material(good));
    const key = generateWorkloadKey();
    const leaf = ca.issueWorkload(key.publicKey.export({ type: 'spki', format: 'der' }), ID, NOW).certificateChainPem;
    const r = loadCaMaterial({ ...good, [CA_SECRET_KEYS.key]: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, [CA_SECRET_KEYS.chain]: leaf }, NOW);
    expect(r).toMatchObject({ ok: false, error: [expect.stringMatching(/is not a CA/)] });
  });

  it('a bundle holding a non-root', () => {
    const ca = new CertificateAuthority(material(good));
    const leaf = ca.issueWorkload(spki(), ID, NOW).certificateChainPem;
    const r = loadCaMaterial({ ...good, [CA_SECRET_KEYS.bundle]: good[CA_SECRET_KEYS.bundle]! + leaf }, NOW);
    expect(r).toMatchObject({ ok: false, error: [expect.stringMatching(/ca.crt: certificate 2 is not a self-signed CA/)] });
  });

  it('a bundle of two roots (rotation) is fine, and leaves carry no root', () => {
    const next = generateRootSecretData('cluster.local', NOW);
    const m = material({ ...good, [CA_SECRET_KEYS.bundle]: good[CA_SECRET_KEYS.bundle]! + next[CA_SECRET_KEYS.bundle]! });
    expect(m.roots).toHaveLength(2);
    expect(m.intermediates).toHaveLength(0);
  });
});
