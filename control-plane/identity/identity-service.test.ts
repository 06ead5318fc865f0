// Certify as a value-returning function: every CSR and token refusal with its reason, status and metric, the SAN checks of
// RELIABILITY.md #8 (URI vs DNS confusion, wildcard, NUL, several URIs), and the leaf a good request gets.
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildCsr, buildWorkloadCsr, generateWorkloadKey, type BuildCsrOptions, type SubjectAltName } from '../../api/identity/pkcs10.ts';
import { IDENTITY_TOKEN_AUDIENCE, type CertifyRequest } from '../../api/proto/identity.ts';
import { err, ok, type Result } from '../../api/result.ts';
import { generateRootSecretData, loadCaMaterial } from './ca-material.ts';
import { CertificateAuthority } from './certificate-authority.ts';
import { IDENTITY_REJECTIONS, MAX_REJECTION_MESSAGE, rejection, type IdentityRejection, type IdentityRejectionReason } from './identity-rejection.ts';
import { IdentityMetrics } from './identity-metrics.ts';
import { IdentityService } from './identity-service.ts';
import { judgeTokenReview, type TokenIdentity, type TokenReviewer } from './token-reviewer.ts';

const TD = 'cluster.local';
const ID = `spiffe://${TD}/ns/shop/sa/checkout`;
const NOW = Date.parse('2026-12-06T08:00:00Z');

const m = loadCaMaterial(generateRootSecretData(TD, NOW - 1000), NOW);
if (!m.ok) throw new Error(m.error.join());
const ca = new CertificateAuthority(m.value);

/** Tokens are names here: the fake answers as the API server would for each. */
class FakeReviewer implements TokenReviewer {
  calls = 0;
  readonly answers: Readonly<Record<string, Result<TokenIdentity, IdentityRejection>>>;
  constructor(answers: Readonly<Record<string, Result<TokenIdentity, IdentityRejection>>>) {
    this.answers = answers;
  }
  review(token: string): Promise<Result<TokenIdentity, IdentityRejection>> {
    this.calls++;
    return Promise.resolve(this.answers[token] ?? err(rejection('token_invalid', 'unknown token')));
  }
}

const reviewer = new FakeReviewer({
  checkout: ok({ namespace: 'shop', serviceAccount: 'checkout' }),
  cart: ok({ namespace: 'shop', serviceAccount: 'cart' }),
  otherns: ok({ namespace: 'bank', serviceAccount: 'checkout' }),
  expired: err(rejection('token_expired', 'expired')),
  audience: err(rejection('token_wrong_audience', 'wrong audience')),
  user: err(rejection('token_not_service_account', 'a user')),
  down: err(rejection('token_review_failed', 'API server unreachable')),
});

function service(over: Partial<ConstructorParameters<typeof IdentityService>[0]> = {}): { svc: IdentityService; registry: Registry } {
  const registry = new Registry();
  const svc = new IdentityService({ trustDomain: TD, ca: () => ca, reviewer, leafTtlMs: 3600_000, metrics: new IdentityMetrics(registry), now: () => NOW, ...over });
  return { svc, registry };
}

const key = generateWorkloadKey().privateKey;
const csrWith = (sans: readonly SubjectAltName[], extra: Partial<BuildCsrOptions> = {}, k: KeyObject = key): string => buildCsr({ privateKey: k, sans, ...extra });
const good: CertifyRequest = { identity: ID, token: 'checkout', csrPem: buildWorkloadCsr(key, ID) };

async function refused(req: Partial<CertifyRequest>): Promise<IdentityRejection> {
  const r = await service().svc.certify({ ...good, ...req });
  if (r.ok) throw new Error('expected a refusal');
  expect(r.error.message.length).toBeLessThanOrEqual(MAX_REJECTION_MESSAGE);
  return r.error;
}

describe('Certify issues', () => {
  it('a leaf for exactly the identity the token proves, with the trust bundle and its expiry', async () => {
    const { svc, registry } = service();
    const r = await svc.certify(good);
    if (!r.ok) throw new Error(r.error.message);
    const leaf = new X509Certificate(r.value.certificateChainPem);
    expect(leaf.subjectAltName).toBe(`URI:${ID}`);
    expect(leaf.checkPrivateKey(key)).toBe(true);
    expect(r.value.trustBundlePem).toBe(ca.trustBundlePem);
    expect(r.value.validUntil).toBe(new Date(NOW + 3600_000).toISOString());
    expect(Date.parse(leaf.validTo)).toBe(NOW + 3600_000);
    expect(await registry.getSingleMetricAsString('skein_cp_certificates_issued_total')).toMatch(/skein_cp_certificates_issued_total 1$/m);
    expect(await registry.getSingleMetricAsString('skein_cp_certificate_issuance_seconds')).toMatch(/skein_cp_certificate_issuance_seconds_count 1$/m);
  });
});

describe('Certify refuses, each failure with its own reason', () => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ed = generateKeyPairSync('ed25519').privateKey;
  const tampered = (() => {
    const d = Buffer.from(good.csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    d[d.indexOf(Buffer.from('checkout'))] = 0x43;
    return `-----BEGIN CERTIFICATE REQUEST-----\n${d.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  })();
  const cases: readonly [string, Partial<CertifyRequest>, IdentityRejectionReason][] = [
    ['an identity that is not a Skein SPIFFE id', { identity: 'spiffe://cluster.local/checkout' }, 'identity_malformed'],
    ['an identity with a query', { identity: `${ID}?x=1` }, 'identity_malformed'],
    ['an empty identity', { identity: '' }, 'identity_malformed'],
    ['an identity in another trust domain', { identity: 'spiffe://evil.example/ns/shop/sa/checkout', csrPem: buildWorkloadCsr(key, 'spiffe://evil.example/ns/shop/sa/checkout') }, 'trust_domain_mismatch'],
    ['a CSR that is not PEM', { csrPem: 'hello' }, 'csr_malformed'],
    ['an empty CSR', { csrPem: '' }, 'csr_malformed'],
    ['a CSR of 1 MiB', { csrPem: 'A'.repeat(1 << 20) }, 'csr_malformed'],
    ['a CSR whose signature does not verify', { csrPem: tampered }, 'csr_bad_signature'],
    ['an RSA key', { csrPem: buildWorkloadCsr(rsa, ID) }, 'csr_bad_key_type'],
    ['a P-384 key', { csrPem: buildWorkloadCsr(p384, ID) }, 'csr_bad_key_type'],
    ['an Ed25519 key', { csrPem: buildWorkloadCsr(ed, ID) }, 'csr_bad_key_type'],
    ['a subject', { csrPem: csrWith([{ type: 'uri', value: ID }], { subject: { commonName: 'checkout' } }) }, 'csr_subject_not_empty'],
    ['no SAN at all', { csrPem: csrWith([]) }, 'csr_no_uri_san'],
    ['a CSR for someone else\'s identity', { csrPem: buildWorkloadCsr(key, `spiffe://${TD}/ns/shop/sa/cart`) }, 'csr_identity_mismatch'],
    ['a token missing', { token: '' }, 'token_missing'],
    ['an unknown (revoked, forged) token', { token: 'forged' }, 'token_invalid'],
    ['an expired token', { token: 'expired' }, 'token_expired'],
    ['a token for another audience', { token: 'audience' }, 'token_wrong_audience'],
    ['a user\'s token', { token: 'user' }, 'token_not_service_account'],
    ['a TokenReview that fails', { token: 'down' }, 'token_review_failed'],
    ['a token for another ServiceAccount', { token: 'cart' }, 'identity_mismatch'],
    ['a token for the same ServiceAccount name in another namespace', { token: 'otherns' }, 'identity_mismatch'],
  ];

  it.each(cases)('%s', async (_name, req, reason) => {
    const e = await refused(req);
    expect(e.reason).toBe(reason);
  });

  it('SAN type confusion: the identity as a DNS SAN, alone or next to the URI, is refused', async () => {
    expect((await refused({ csrPem: csrWith([{ type: 'dns', value: ID }]) })).reason).toBe('csr_extra_sans');
    expect((await refused({ csrPem: csrWith([{ type: 'uri', value: ID }, { type: 'dns', value: 'checkout.shop.svc' }]) })).reason).toBe('csr_extra_sans');
    expect((await refused({ csrPem: csrWith([{ type: 'uri', value: ID }, { type: 'ip', value: '10.0.0.1' }]) })).reason).toBe('csr_extra_sans');
    expect((await refused({ csrPem: csrWith([{ type: 'uri', value: ID }, { type: 'email', value: 'a@b.c' }]) })).reason).toBe('csr_extra_sans');
    expect((await refused({ csrPem: csrWith([{ type: 'uri', value: ID }, { type: 'other', tag: 0 }]) })).reason).toBe('csr_extra_sans');
  });

  it('wildcards: a wildcard URI or DNS SAN is refused', async () => {
    expect((await refused({ csrPem: csrWith([{ type: 'uri', value: `spiffe://${TD}/ns/shop/sa/*` }]) })).reason).toBe('csr_identity_mismatch');
    expect((await refused({ csrPem: csrWith([{ type: 'uri', value: ID }, { type: 'dns', value: '*.shop.svc.cluster.local' }]) })).reason).toBe('csr_extra_sans');
    expect((await refused({ identity: `spiffe://${TD}/ns/shop/sa/*`, csrPem: csrWith([{ type: 'uri', value: `spiffe://${TD}/ns/shop/sa/*` }]) })).reason).toBe('identity_malformed');
  });

  it('a NUL in the URI SAN (the identity, then a NUL and more) is refused and shown escaped', async () => {
    const e = await refused({ csrPem: csrWith([{ type: 'uri', value: `${ID}\0.evil.example` }]) });
    expect(e.reason).toBe('csr_identity_mismatch');
    expect(e.message).toContain('\\u0000');
    expect(e.message).not.toContain('\0');
    expect((await refused({ csrPem: csrWith([{ type: 'uri', value: `spiffe://${TD}\0/ns/shop/sa/checkout` }]) })).reason).toBe('csr_identity_mismatch');
  });

  it('several URI SANs, even both the right one twice, are refused', async () => {
    expect((await refused({ csrPem: csrWith([{ type: 'uri', value: ID }, { type: 'uri', value: `spiffe://${TD}/ns/shop/sa/admin` }]) })).reason).toBe('csr_several_uri_sans');
    expect((await refused({ csrPem: csrWith([{ type: 'uri', value: ID }, { type: 'uri', value: ID }]) })).reason).toBe('csr_several_uri_sans');
  });

  it('case and form variants of the identity are not the identity', async () => {
    for (const v of [ID.toUpperCase(), `${ID}/`, `spiffe://${TD}:443/ns/shop/sa/checkout`, `SPIFFE://${TD}/ns/shop/sa/checkout`, `${ID}#x`]) {
      expect((await refused({ csrPem: csrWith([{ type: 'uri', value: v }]) })).reason).toBe('csr_identity_mismatch');
    }
  });

  it('extensions or attributes besides subjectAltName are refused', async () => {
    // A CSR asking to be a CA: basicConstraints CA:TRUE in the extension request.
    const { seq, oid, bool, tlv, ctx, set, smallInt, bitString, TAG } = await import('../../api/identity/der.ts');
    const { sign, createPublicKey } = await import('node:crypto');
    const san = seq(oid('2.5.29.17'), tlv(TAG.OCTET_STRING, seq(ctx(6, false, Buffer.from(ID)))));
    const bc = seq(oid('2.5.29.19'), bool(true), tlv(TAG.OCTET_STRING, seq(bool(true))));
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    const info = seq(smallInt(0), seq(), spki, ctx(0, true, seq(oid('1.2.840.113549.1.9.14'), set(seq(san, bc)))));
    const der = seq(info, seq(oid('1.2.840.10045.4.3.2')), bitString(sign('sha256', info, { key, dsaEncoding: 'der' })));
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const e = await refused({ csrPem: pem });
    expect(e.reason).toBe('csr_extra_extensions');
    expect(e.message).toContain('2.5.29.19');
  });

  it('no CA loaded is UNAVAILABLE (retry), not an error of the caller', async () => {
    const r = await service({ ca: () => null }).svc.certify(good);
    expect(r).toMatchObject({ ok: false, error: { reason: 'ca_unavailable' } });
  });

  it('a bad CSR costs no TokenReview', async () => {
    const before = reviewer.calls;
    await refused({ csrPem: 'junk' });
    expect(reviewer.calls).toBe(before);
  });

  it('counts refusals by reason, every reason present from the start', async () => {
    const { svc, registry } = service();
    await svc.certify({ ...good, token: 'cart' });
    await svc.certify({ ...good, token: 'cart' });
    await svc.certify({ ...good, csrPem: 'x' });
    const text = await registry.getSingleMetricAsString('skein_cp_certificates_rejected_total');
    expect(text).toContain('skein_cp_certificates_rejected_total{reason="identity_mismatch"} 2');
    expect(text).toContain('skein_cp_certificates_rejected_total{reason="csr_malformed"} 1');
    for (const reason of Object.keys(IDENTITY_REJECTIONS)) expect(text).toContain(`{reason="${reason}"}`);
  });
});

describe('judgeTokenReview', () => {
  const jwt = (claims: object): string => `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
  const nowS = NOW / 1000;
  const sa = { authenticated: true, audiences: [IDENTITY_TOKEN_AUDIENCE], user: { username: 'system:serviceaccount:shop:checkout' } };

  it('an authenticated ServiceAccount token for our audience proves its namespace and ServiceAccount', () => {
    expect(judgeTokenReview(sa, 'opaque', NOW)).toEqual(ok({ namespace: 'shop', serviceAccount: 'checkout' }));
  });

  it.each([
    ['authenticated, but not for our audience', { ...sa, audiences: ['api'] }, 'opaque', 'token_wrong_audience'],
    ['authenticated with no audiences answered (fails closed)', { ...sa, audiences: undefined }, 'opaque', 'token_wrong_audience'],
    ['a user, not a ServiceAccount', { ...sa, user: { username: 'alice' } }, 'opaque', 'token_not_service_account'],
    ['a ServiceAccount-looking user with extra parts', { ...sa, user: { username: 'system:serviceaccount:shop:checkout:x' } }, 'opaque', 'token_not_service_account'],
    ['refused, and expired by its claims', { authenticated: false, error: 'token is expired' }, jwt({ exp: nowS - 1, aud: [IDENTITY_TOKEN_AUDIENCE] }), 'token_expired'],
    ['refused, and issued for another audience', { authenticated: false }, jwt({ exp: nowS + 600, aud: ['https://kubernetes.default.svc'] }), 'token_wrong_audience'],
    ['refused, with a string audience of someone else', { authenticated: false }, jwt({ aud: 'vault' }), 'token_wrong_audience'],
    ['refused, claims fine (revoked, pod deleted)', { authenticated: false, error: 'pod not found' }, jwt({ exp: nowS + 600, aud: [IDENTITY_TOKEN_AUDIENCE] }), 'token_invalid'],
    ['refused, not even a JWT', { authenticated: false }, 'not-a-jwt', 'token_invalid'],
    ['no status at all', undefined, 'opaque', 'token_invalid'],
  ] as const)('%s', (_name, status, token, reason) => {
    expect(judgeTokenReview(status as never, token, NOW)).toMatchObject({ ok: false, error: { reason } });
  });

  it('an expired token is refused even if an API server answered authenticated: false without a reason', () => {
    expect(judgeTokenReview({ authenticated: false }, jwt({ exp: nowS }), NOW)).toMatchObject({ ok: false, error: { reason: 'token_expired' } });
  });
});

describe('the catalogue', () => {
  it('caps messages', () => {
    expect(rejection('token_invalid', 'x'.repeat(10_000)).message).toHaveLength(MAX_REJECTION_MESSAGE);
  });
  it('gives every reason a distinct SKEIN_ERR code', () => {
    const codes = Object.values(IDENTITY_REJECTIONS).map((r) => r.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^SKEIN_ERR_ID_[A-Z_]+$/);
  });
});
