// Unit tests of the JWT layer and its key sources, with keys made by jose, a fake wall clock and a fake JWKS endpoint.
import * as jose from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JwtAuthConfig, JwksSourceConfig } from '../../api/config/edge-policy-config.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { ProxyRequest, type DownstreamInfo } from '../stack/proxy-request.ts';
import { ProxyResponse } from '../stack/proxy-response.ts';
import type { Service } from '../stack/service.ts';
import type { EdgeHttpCall, EdgeHttpRequest } from './edge-http-client.ts';
import { InlineKeys, RemoteKeys, type KeySource } from './jwks-cache.ts';
import { jwtAuthLayer, type JwtCounters } from './jwt-auth.ts';

const downstream: DownstreamInfo = { listener: 'edge', direction: 'ingress', clientAddress: '192.0.2.1', clientPort: 1, tls: true, sni: null, peerIdentity: null, originalDst: null };
const T0 = Date.UTC(2026, 11, 6, 9, 0, 0);
type Key = Awaited<ReturnType<typeof jose.generateKeyPair>>['privateKey'];

let wall = T0;
let signer: Key;
let publicJwk: jose.JWK;
let otherSigner: Key;
let otherJwk: jose.JWK;

beforeAll(async () => {
  const a = await jose.generateKeyPair('ES256', { extractable: true });
  signer = a.privateKey;
  publicJwk = { ...(await jose.exportJWK(a.publicKey)), kid: 'k1', alg: 'ES256' };
  const b = await jose.generateKeyPair('ES256', { extractable: true });
  otherSigner = b.privateKey;
  otherJwk = { ...(await jose.exportJWK(b.publicKey)), kid: 'k2', alg: 'ES256' };
});

function token(claims: jose.JWTPayload = {}, opts: { key?: Key; kid?: string; iss?: string; aud?: string; expIn?: number } = {}): Promise<string> {
  const now = Math.floor(wall / 1000);
  return new jose.SignJWT({ sub: 'user-1', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? 'k1' })
    .setIssuer(opts.iss ?? 'https://issuer.test')
    .setAudience(opts.aud ?? 'api')
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expIn ?? 600))
    .sign(opts.key ?? signer);
}

function config(over: Partial<JwtAuthConfig> = {}): JwtAuthConfig {
  return {
    issuer: 'https://issuer.test',
    audiences: ['api'],
    jwks: { type: 'inline', keys: [publicJwk as Record<string, unknown>] },
    algorithms: ['ES256'],
    clockSkewSeconds: 60,
    required: true,
    claimHeaders: [{ claim: 'sub', header: 'x-user' }, { claim: 'org.id', header: 'x-org' }],
    forwardToken: false,
    ...over,
  };
}

const counters = (): JwtCounters => ({ missing: 0, invalid: 0, expired: 0, keysUnavailable: 0, claimSkipped: 0 });

function upstream() {
  const seen: Record<string, unknown>[] = [];
  const svc: Service = (req) => {
    seen.push({ ...req.headers });
    return Promise.resolve(new ProxyResponse(200, {}, null));
  };
  return { svc, seen };
}

function request(headers: Record<string, string | string[]>): ProxyRequest {
  return new ProxyRequest('GET', 'api.test', '/', { ...headers } as Record<string, string>, null, downstream, false, 0, headers);
}

function layer(c: JwtAuthConfig, keys: KeySource = new InlineKeys(jose, (c.jwks as unknown as { keys: Record<string, unknown>[] }).keys), n = counters()) {
  return { layer: jwtAuthLayer(c, Promise.resolve(jose), Promise.resolve(keys), () => wall, n), counters: n };
}

async function outcome(svc: Service, req: ProxyRequest): Promise<{ status: number; cause?: string; challenge?: string }> {
  try {
    return { status: (await svc(req)).status };
  } catch (e) {
    const p = e as ProxyError;
    return { status: p.spec.status, cause: p.spec.cause, challenge: p.headers?.['www-authenticate'] };
  }
}

describe('jwt layer', () => {
  it('a valid token passes; claims are copied to headers; the token is not forwarded', async () => {
    wall = T0;
    const u = upstream();
    const { layer: l } = layer(config());
    const t = await token({ org: { id: 42 } });
    expect(await outcome(l(u.svc), request({ authorization: `Bearer ${t}` }))).toEqual({ status: 200 });
    expect(u.seen[0]).toMatchObject({ 'x-user': 'user-1', 'x-org': '42' });
    expect(u.seen[0]!.authorization).toBeUndefined();
  });

  it('a client-supplied claim header is removed even when the token carries no such claim, and on optional routes without a token', async () => {
    wall = T0;
    const u = upstream();
    const t = await token();
    await layer(config()).layer(u.svc)(request({ authorization: `Bearer ${t}`, 'x-org': 'spoofed' }));
    await layer(config({ required: false })).layer(u.svc)(request({ 'x-user': 'admin' }));
    expect(u.seen[0]!['x-org']).toBeUndefined();
    expect(u.seen[1]!['x-user']).toBeUndefined();
  });

  it('no token: 401 jwt-missing with a bare Bearer challenge (UNAUTHENTICATED for gRPC); optional lets it through', async () => {
    const { layer: l, counters: n } = layer(config());
    expect(await outcome(l(upstream().svc), request({}))).toEqual({ status: 401, cause: 'jwt-missing', challenge: 'Bearer' });
    expect(await outcome(l(upstream().svc), request({ authorization: 'Basic dXNlcjpwdw==' }))).toMatchObject({ cause: 'jwt-missing' });
    expect(n.missing).toBe(2);
    expect(ERRORS.jwtMissing.grpcStatus).toBe(16);
    expect((await outcome(layer(config({ required: false })).layer(upstream().svc), request({}))).status).toBe(200);
  });

  it('an expired token: 401 jwt-expired (beyond the clock skew, not within it)', async () => {
    wall = T0;
    const t = await token({}, { expIn: 10 });
    const { layer: l, counters: n } = layer(config({ clockSkewSeconds: 30 }));
    wall = T0 + 35_000; // 25 s past exp: inside the skew
    expect((await outcome(l(upstream().svc), request({ authorization: `Bearer ${t}` }))).status).toBe(200);
    wall = T0 + 45_000; // 35 s past exp
    const o = await outcome(l(upstream().svc), request({ authorization: `Bearer ${t}` }));
    expect(o).toMatchObject({ status: 401, cause: 'jwt-expired' });
    expect(o.challenge).toContain('error="invalid_token"');
    expect(n.expired).toBe(1);
    wall = T0;
  });

  it('wrong issuer, wrong audience, another key, garbage, two Authorization headers: 401 jwt-invalid', async () => {
    wall = T0;
    const { layer: l, counters: n } = layer(config());
    const svc = l(upstream().svc);
    const cases = [
      await token({}, { iss: 'https://evil.test' }),
      await token({}, { aud: 'other' }),
      await token({}, { key: otherSigner }), // kid k1, signed by another key
      'not.a.jwt',
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', // alg none
    ];
    const results = [];
    for (const t of cases) results.push(await outcome(svc, request({ authorization: `Bearer ${t}` })));
    results.push(await outcome(svc, request({ authorization: ['Bearer a.b.c', 'Bearer d.e.f'] })));
    for (const r of results) expect(r).toMatchObject({ status: 401, cause: 'jwt-invalid' });
    expect(results[0]!.challenge).toContain('error_description="unexpected iss claim"');
    expect(n.invalid).toBe(6);
  });
});

describe('remote JWKS', () => {
  let fetchNow = 0;
  const remote: Extract<JwksSourceConfig, { type: 'remote' }> = {
    type: 'remote',
    url: 'https://issuer.test/jwks',
    refreshIntervalMs: 60_000,
    fetchTimeoutMs: 1_000,
    retryIntervalMs: 5_000,
    unknownKeyCooldownMs: 10_000,
  };

  /** A JWKS endpoint whose answers the test sets; each call waits for `release` when `hold` is set. */
  function endpoint() {
    const e = {
      calls: 0,
      keys: [publicJwk] as jose.JWK[],
      fail: false,
      hold: null as Promise<void> | null,
      call: (async (_r: EdgeHttpRequest) => {
        e.calls++;
        if (e.hold !== null) await e.hold;
        if (e.fail) throw new Error('connection refused');
        return { status: 200, headers: {}, body: Buffer.from(JSON.stringify({ keys: e.keys })) };
      }) as EdgeHttpCall,
    };
    return e;
  }

  it('the first requests share one fetch; later ones use the cache; a stale set is refreshed in the background', async () => {
    wall = T0;
    fetchNow = 0;
    const ep = endpoint();
    let release!: () => void;
    ep.hold = new Promise((r) => (release = r));
    const keys = new RemoteKeys(remote, jose, ep.call, () => fetchNow, { fetched: 0, fetchFailed: 0 }, () => {});
    const { layer: l } = layer(config({ jwks: remote }), keys);
    const svc = l(upstream().svc);
    const t = await token();
    const pending = [1, 2, 3, 4, 5].map(() => outcome(svc, request({ authorization: `Bearer ${t}` })));
    await new Promise((r) => setImmediate(r));
    expect(ep.calls).toBe(1);
    release();
    ep.hold = null;
    for (const o of await Promise.all(pending)) expect(o.status).toBe(200);
    expect((await outcome(svc, request({ authorization: `Bearer ${t}` }))).status).toBe(200);
    expect(ep.calls).toBe(1);
    fetchNow = 61_000;
    expect((await outcome(svc, request({ authorization: `Bearer ${t}` }))).status).toBe(200);
    expect(ep.calls).toBe(2);
  });

  it('a failed refresh keeps the last good keys; no keys at all gives 503 jwks-unavailable without hammering the endpoint', async () => {
    wall = T0;
    fetchNow = 0;
    const ep = endpoint();
    const failures: string[] = [];
    const events = { fetched: 0, fetchFailed: 0 };
    const keys = new RemoteKeys(remote, jose, ep.call, () => fetchNow, events, (r) => failures.push(r));
    const svc = layer(config({ jwks: remote }), keys).layer(upstream().svc);
    const t = await token();
    expect((await outcome(svc, request({ authorization: `Bearer ${t}` }))).status).toBe(200);
    ep.fail = true;
    fetchNow = 61_000;
    expect((await outcome(svc, request({ authorization: `Bearer ${t}` }))).status).toBe(200);
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual({ fetched: 1, fetchFailed: 1 });
    expect(failures).toEqual(['connection refused']);

    const cold = new RemoteKeys(remote, jose, ep.call, () => fetchNow, { fetched: 0, fetchFailed: 0 }, () => {});
    const coldSvc = layer(config({ jwks: remote }), cold).layer(upstream().svc);
    const before = ep.calls;
    expect(await outcome(coldSvc, request({ authorization: `Bearer ${t}` }))).toMatchObject({ status: 503, cause: 'jwks-unavailable' });
    expect(await outcome(coldSvc, request({ authorization: `Bearer ${t}` }))).toMatchObject({ status: 503, cause: 'jwks-unavailable' });
    expect(ep.calls - before).toBe(1); // the second waited for retryIntervalMs instead of fetching again
  });

  it('a token signed by a rotated-in key refetches the set once (rate limited) and passes', async () => {
    wall = T0;
    fetchNow = 0;
    const ep = endpoint();
    const keys = new RemoteKeys(remote, jose, ep.call, () => fetchNow, { fetched: 0, fetchFailed: 0 }, () => {});
    const svc = layer(config({ jwks: remote }), keys).layer(upstream().svc);
    expect((await outcome(svc, request({ authorization: `Bearer ${await token()}` }))).status).toBe(200);
    const rotated = await token({}, { key: otherSigner, kid: 'k2' });
    ep.keys = [publicJwk, otherJwk];
    // Within the cooldown the unknown key does not trigger a fetch.
    expect((await outcome(svc, request({ authorization: `Bearer ${rotated}` }))).cause).toBe('jwt-invalid');
    expect(ep.calls).toBe(1);
    fetchNow = 11_000;
    expect((await outcome(svc, request({ authorization: `Bearer ${rotated}` }))).status).toBe(200);
    expect(ep.calls).toBe(2);
  });
});
