// PKCS#10 build/parse: round trips, interop with OpenSSL both ways, and every malformed or forged request refused as a value.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctx, oid, readDer, seq, set, smallInt, tlv, TAG, bitString, children } from './der.ts';
import { buildCsr, buildWorkloadCsr, generateWorkloadKey, MAX_CSR_PEM_BYTES, parseCsr, type ParsedCsr } from './pkcs10.ts';

const ID = 'spiffe://cluster.local/ns/shop/sa/checkout';

function parsed(pem: string): ParsedCsr {
  const r = parseCsr(pem);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

function der(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
}

function pem(d: Buffer): string {
  return `-----BEGIN CERTIFICATE REQUEST-----\n${d.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}

function withOpenssl<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'skein-csr-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('buildCsr / parseCsr', () => {
  it('round-trips a workload CSR: no subject, the SPIFFE id as the only URI SAN, an ECDSA P-256 key', () => {
    const { privateKey, publicKey } = generateWorkloadKey();
    const csr = parsed(buildWorkloadCsr(privateKey, ID));
    expect(csr.subject).toEqual([]);
    expect(csr.sans).toEqual([{ type: 'uri', value: ID }]);
    expect(csr.keyType).toBe('ec');
    expect(csr.namedCurve).toBe('prime256v1');
    expect(csr.otherExtensions).toEqual([]);
    expect(csr.otherAttributes).toEqual([]);
    expect(csr.publicKeySpki.equals(publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('reports every SAN by type, in order, NULs and all, and the subject attributes', () => {
    const { privateKey } = generateWorkloadKey();
    const sans = [
      { type: 'uri', value: ID },
      { type: 'dns', value: '*.shop.svc' },
      { type: 'email', value: 'a@b.c' },
      { type: 'ip', value: '10.0.0.7' },
      { type: 'ip', value: 'fd00::1' },
      { type: 'uri', value: `${ID}\0.evil` },
      { type: 'other', tag: 4 },
    ] as const;
    const csr = parsed(buildCsr({ privateKey, subject: { organization: 'o', commonName: 'cn' }, sans }));
    expect(csr.sans).toEqual([...sans.slice(0, 4), { type: 'ip', value: 'fd00:0:0:0:0:0:0:1' }, ...sans.slice(5)]);
    expect(csr.subject).toEqual([{ oid: '2.5.4.10', value: 'o' }, { oid: '2.5.4.3', value: 'cn' }]);
  });

  it('signs RSA and Ed25519 requests too (so the CA can refuse their key type by name)', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(parsed(buildWorkloadCsr(rsa.privateKey, ID)).keyType).toBe('rsa');
    const ed = generateKeyPairSync('ed25519');
    expect(parsed(buildWorkloadCsr(ed.privateKey, ID)).keyType).toBe('ed25519');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(parsed(buildWorkloadCsr(p384.privateKey, ID)).namedCurve).toBe('secp384r1');
  });

  it('builds what OpenSSL verifies, and parses what OpenSSL builds', () => {
    withOpenssl((dir) => {
      const { privateKey } = generateWorkloadKey();
      writeFileSync(join(dir, 'ours.csr'), buildCsr({ privateKey, subject: { commonName: 'x' }, sans: [{ type: 'uri', value: ID }, { type: 'ip', value: '::1' }] }));
      const text = execFileSync('openssl', ['req', '-in', join(dir, 'ours.csr'), '-verify', '-noout', '-text'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
      expect(text).toContain(`URI:${ID}`);
      expect(text).toContain('IP Address:0:0:0:0:0:0:0:1');
      expect(text).toContain('prime256v1');
      execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'),
        '-subj', '/O=acme/CN=theirs', '-addext', `subjectAltName=URI:${ID},DNS:a.example`, '-out', join(dir, 'theirs.csr')], { stdio: 'ignore' });
      const theirs = parsed(readFileSync(join(dir, 'theirs.csr'), 'utf8'));
      expect(theirs.subject).toEqual([{ oid: '2.5.4.10', value: 'acme' }, { oid: '2.5.4.3', value: 'theirs' }]);
      expect(theirs.sans).toEqual([{ type: 'uri', value: ID }, { type: 'dns', value: 'a.example' }]);
      expect(theirs.namedCurve).toBe('prime256v1');
    });
  });
});

describe('parseCsr refusals', () => {
  const { privateKey } = generateWorkloadKey();
  const good = buildWorkloadCsr(privateKey, ID);

  it('a request whose signed part was changed fails the signature check', () => {
    const d = der(good);
    const at = d.indexOf(Buffer.from('checkout'));
    d[at] = 'C'.charCodeAt(0);
    const r = parseCsr(pem(d));
    expect(r).toMatchObject({ ok: false, error: { code: 'SKEIN_ERR_CSR_SIGNATURE' } });
  });

  it('a request signed by another key than the one it carries fails the signature check', () => {
    const other = generateWorkloadKey();
    const [info] = children(readDer(der(buildWorkloadCsr(privateKey, ID))));
    const [otherInfo, alg, sig] = children(readDer(der(buildWorkloadCsr(other.privateKey, ID))));
    expect(parseCsr(pem(seq(info!.der, alg!.der, sig!.der)))).toMatchObject({ ok: false, error: { code: 'SKEIN_ERR_CSR_SIGNATURE' } });
    expect(otherInfo).toBeDefined();
  });

  it('an unknown signature algorithm is unsupported, an algorithm that does not fit the key is a signature failure', () => {
    const [info, , sig] = children(readDer(der(good)));
    expect(parseCsr(pem(seq(info!.der, seq(oid('1.2.840.113549.1.1.5')), sig!.der)))).toMatchObject({ ok: false, error: { code: 'SKEIN_ERR_CSR_UNSUPPORTED' } });
    expect(parseCsr(pem(seq(info!.der, seq(oid('1.3.101.112')), sig!.der)))).toMatchObject({ ok: false, error: { code: 'SKEIN_ERR_CSR_SIGNATURE' } });
  });

  it.each([
    ['not PEM', 'hello'],
    ['a certificate, not a request', '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n'],
    ['bad base64', '-----BEGIN CERTIFICATE REQUEST-----\nM!A=\n-----END CERTIFICATE REQUEST-----\n'],
    ['an empty sequence', pem(Buffer.from([0x30, 0x00]))],
    ['truncated DER', pem(der(good).subarray(0, 60))],
    ['trailing bytes', pem(Buffer.concat([der(good), Buffer.from([0])]))],
    ['an indefinite length', pem(Buffer.from([0x30, 0x80, 0x00, 0x00]))],
    ['a non-minimal length', pem(Buffer.concat([Buffer.from([0x30, 0x81, 0x03]), Buffer.from([0x02, 0x01, 0x00])]))],
    ['two PEM blocks', good + good],
    ['too large', good.padEnd(MAX_CSR_PEM_BYTES + 1, ' ')],
  ])('%s is malformed', (_name, input) => {
    expect(parseCsr(input)).toMatchObject({ ok: false, error: { code: 'SKEIN_ERR_CSR_MALFORMED' } });
  });

  it('a request with two subjectAltName extensions, or a version other than 0, is malformed', () => {
    const spki = generateWorkloadKey().publicKey.export({ type: 'spki', format: 'der' });
    const san = seq(oid('2.5.29.17'), tlv(TAG.OCTET_STRING, seq(ctx(6, false, Buffer.from(ID)))));
    const twice = seq(smallInt(0), seq(), spki, ctx(0, true, seq(oid('1.2.840.113549.1.9.14'), set(seq(san, san)))));
    const fake = seq(twice, seq(oid('1.2.840.10045.4.3.2')), bitString(Buffer.alloc(8)));
    expect(parseCsr(pem(fake))).toMatchObject({ ok: false, error: { code: 'SKEIN_ERR_CSR_MALFORMED', message: expect.stringContaining('twice') } });
    const v2 = seq(seq(smallInt(1), seq(), spki, ctx(0, true)), seq(oid('1.2.840.10045.4.3.2')), bitString(Buffer.alloc(8)));
    expect(parseCsr(pem(v2))).toMatchObject({ ok: false, error: { code: 'SKEIN_ERR_CSR_MALFORMED' } });
  });
});
