// Unit tests of the CORS layer: preflights answered by the proxy, actual responses (and the proxy's own errors) decorated.
import { describe, expect, it } from 'vitest';
import type { CorsConfig } from '../../api/config/edge-policy-config.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { ProxyRequest, type DownstreamInfo } from '../stack/proxy-request.ts';
import { ProxyResponse } from '../stack/proxy-response.ts';
import type { Service } from '../stack/service.ts';
import { CorsPolicy, corsLayer } from './cors.ts';

const downstream: DownstreamInfo = { listener: 'edge', direction: 'ingress', clientAddress: '192.0.2.1', clientPort: 1, tls: true, sni: null, peerIdentity: null, originalDst: null };

function request(method: string, headers: Record<string, string>): ProxyRequest {
  return new ProxyRequest(method, 'api.test', '/x', { ...headers }, null, downstream, false, 0, headers);
}

function cors(over: Partial<CorsConfig> = {}): CorsConfig {
  return { allowOrigins: ['https://app.example'], allowMethods: ['GET', 'POST'], allowHeaders: ['x-custom'], exposeHeaders: ['x-total'], maxAge: 5, allowCredentials: false, ...over };
}

function upstream(): { svc: Service; calls: number } {
  const u = {
    calls: 0,
    svc: (() => {
      u.calls++;
      return Promise.resolve(new ProxyResponse(200, { vary: 'Accept-Encoding' }, null));
    }) as Service,
  };
  return u;
}

const preflight = (origin: string, extra: Record<string, string> = {}) =>
  request('OPTIONS', { origin, 'access-control-request-method': 'POST', ...extra });

describe('cors layer', () => {
  it('answers an allowed preflight itself with the configured lists and max age', async () => {
    const u = upstream();
    const counters = { preflights: 0 };
    const res = await corsLayer(new CorsPolicy(cors()), counters)(u.svc)(preflight('https://app.example', { 'access-control-request-headers': 'x-custom' }));
    expect(u.calls).toBe(0);
    expect(counters.preflights).toBe(1);
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': 'https://app.example',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'x-custom',
      'access-control-max-age': '5',
      // The Gateway API's CORS filter answers with the exposed headers on preflights too.
      'access-control-expose-headers': 'x-total',
      vary: 'Origin',
    });
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('answers a preflight from an origin not allowed without any CORS header (the browser then refuses)', async () => {
    const u = upstream();
    const res = await corsLayer(new CorsPolicy(cors()), { preflights: 0 })(u.svc)(preflight('https://evil.example'));
    expect(u.calls).toBe(0);
    expect(res.status).toBe(200);
    expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('wildcard origins match subdomains only, with the same scheme and port', () => {
    const p = new CorsPolicy(cors({ allowOrigins: ['https://*.example.com', 'http://localhost:3000'] }));
    expect(p.allowsOrigin('https://a.example.com')).toBe(true);
    expect(p.allowsOrigin('https://a.b.example.com')).toBe(true);
    expect(p.allowsOrigin('https://example.com')).toBe(false);
    expect(p.allowsOrigin('http://a.example.com')).toBe(false);
    expect(p.allowsOrigin('https://a.example.com:8443')).toBe(false);
    expect(p.allowsOrigin('https://evilexample.com')).toBe(false);
    expect(p.allowsOrigin('HTTP://LOCALHOST:3000')).toBe(true);
    expect(p.allowsOrigin('null')).toBe(false);
  });

  it('"*" without credentials answers "*"; with credentials it reflects the origin, method and headers instead', async () => {
    const any = { allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], exposeHeaders: ['*'] };
    const plain = await corsLayer(new CorsPolicy(cors(any)), { preflights: 0 })(upstream().svc)(preflight('https://x.test', { 'access-control-request-headers': 'x-a, x-b' }));
    expect(plain.headers).toMatchObject({ 'access-control-allow-origin': '*', 'access-control-allow-methods': '*', 'access-control-allow-headers': '*' });
    expect(plain.headers.vary).toBeUndefined();
    const creds = await corsLayer(new CorsPolicy(cors({ ...any, allowCredentials: true })), { preflights: 0 })(upstream().svc)(preflight('https://x.test', { 'access-control-request-headers': 'x-a, x-b' }));
    expect(creds.headers).toMatchObject({
      'access-control-allow-origin': 'https://x.test',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'x-a, x-b',
    });
  });

  it('decorates an actual response to an allowed origin, keeping the upstream Vary', async () => {
    const u = upstream();
    const res = await corsLayer(new CorsPolicy(cors({ allowCredentials: true })), { preflights: 0 })(u.svc)(request('GET', { origin: 'https://app.example' }));
    expect(u.calls).toBe(1);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': 'https://app.example',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'x-total',
      vary: 'Accept-Encoding, Origin',
    });
  });

  it('leaves requests without Origin, and from origins not allowed, untouched', async () => {
    const svc = corsLayer(new CorsPolicy(cors()), { preflights: 0 })(upstream().svc);
    for (const req of [request('GET', {}), request('GET', { origin: 'https://evil.example' }), request('OPTIONS', {})]) {
      const res = await svc(req);
      expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
  });

  it("adds the CORS headers to the proxy's own error answers, keeping the error and its headers", async () => {
    const failing: Service = () => Promise.reject(new ProxyError(ERRORS.rateLimited, undefined, { headers: { 'retry-after': '2' } }));
    const e = await corsLayer(new CorsPolicy(cors()), { preflights: 0 })(failing)(request('GET', { origin: 'https://app.example' })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProxyError);
    expect((e as ProxyError).spec).toBe(ERRORS.rateLimited);
    expect((e as ProxyError).headers).toMatchObject({ 'retry-after': '2', 'access-control-allow-origin': 'https://app.example' });
  });
});
