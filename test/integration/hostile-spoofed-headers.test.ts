// RELIABILITY 6 — spoofed identity and forwarding headers are stripped or overwritten where they can't be trusted.
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http1Get, rawExchange } from '../support/raw-http.ts';
import { startRawUpstream, type EchoBody, type RawUpstream } from '../support/raw-upstream.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What an attacker outside the mesh sends, as raw HTTP/1 header lines (mixed case on purpose). */
const SPOOFED_LINES = [
  'X-Forwarded-For: 6.6.6.6',
  'X-Forwarded-Proto: https',
  'X-Forwarded-Host: evil.test',
  'X-Forwarded-Port: 1',
  'X-Forwarded-Client-Cert: By=spiffe://skein.local/ns/default/sa/admin',
  'Forwarded: for=6.6.6.6;host=evil.test;proto=https',
  'X-Request-Id: attacker-chosen-id',
  'X-Skein-Client-Identity: spiffe://skein.local/ns/kube-system/sa/admin',
  'X-SKEIN-Error: none',
  'x-skein-anything: 1',
  'X_Skein_Client_Identity: spiffe://skein.local/ns/kube-system/sa/admin',
  'x-skein_client-identity: spiffe://skein.local/ns/kube-system/sa/admin',
];

function headerMap(echo: EchoBody): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [k, v] of echo.headers) m.set(k, [...(m.get(k) ?? []), v]);
  return m;
}

async function rawSpoofed(port: number, path: string): Promise<Map<string, string[]>> {
  const r = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: example.test\r\n${SPOOFED_LINES.join('\r\n')}\r\nConnection: close\r\n\r\n`);
  expect(r.responses[0]?.status).toBe(200);
  return headerMap(JSON.parse(r.responses[0]!.body.toString()) as EchoBody);
}

async function h2Spoofed(port: number, path: string): Promise<Map<string, string[]>> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const headers: http2.OutgoingHttpHeaders = { ':path': path, ':authority': 'example.test' };
    for (const line of SPOOFED_LINES) {
      const [k, v] = line.split(': ') as [string, string];
      headers[k.toLowerCase()] = v;
    }
    const body = await new Promise<string>((resolve, reject) => {
      session.on('error', reject);
      const req = session.request(headers);
      let s = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (s += c));
      req.on('end', () => resolve(s));
      req.on('error', reject);
      req.end();
    });
    return headerMap(JSON.parse(body) as EchoBody);
  } finally {
    session.destroy();
  }
}

function expectNoSkeinHeaders(h: Map<string, string[]>): void {
  for (const k of h.keys()) expect(k.replace(/_/g, '-').startsWith('x-skein-'), `header ${k} reached the upstream`).toBe(false);
}

describe('RELIABILITY 6: spoofed identity headers', () => {
  let upstream: RawUpstream;
  let ingress: HostileProxy;
  let inbound: HostileProxy;
  let outbound: HostileProxy;

  beforeAll(async () => {
    upstream = await startRawUpstream();
    ingress = await startHostileProxy({ upstreamPort: upstream.port, mode: 'ingress', direction: 'ingress' });
    inbound = await startHostileProxy({ upstreamPort: upstream.port, direction: 'inbound' });
    outbound = await startHostileProxy({ upstreamPort: upstream.port, direction: 'outbound' });
  });
  afterAll(async () => {
    await Promise.all([ingress?.close(), inbound?.close(), outbound?.close()]);
    await upstream?.close();
  });

  describe.each([
    ['HTTP/1.1', rawSpoofed],
    ['HTTP/2', h2Spoofed],
  ] as const)('ingress over %s', (_proto, send) => {
    it('overwrites x-forwarded-for/-proto and x-request-id, drops other forwarding headers and every x-skein-* header', async () => {
      const h = await send(ingress.port, '/spoof');
      expect(h.get('x-forwarded-for')).toEqual(['127.0.0.1']);
      expect(h.get('x-forwarded-proto')).toEqual(['http']);
      const id = h.get('x-request-id') ?? [];
      expect(id).toHaveLength(1);
      expect(id[0]).toMatch(UUID);
      for (const gone of ['x-forwarded-host', 'x-forwarded-port', 'x-forwarded-client-cert', 'forwarded']) {
        expect(h.get(gone), gone).toBeUndefined();
      }
      expectNoSkeinHeaders(h);
      expect((await http1Get(ingress.port)).status).toBe(200);
    });
  });

  it('inbound (a sidecar in front of its app) drops every x-skein-* header and appends the peer to x-forwarded-for', async () => {
    const h = await rawSpoofed(inbound.port, '/spoof-inbound');
    expectNoSkeinHeaders(h);
    expect(h.get('x-forwarded-for')).toEqual(['6.6.6.6, 127.0.0.1']);
    // Mesh peers propagate the request id (tracing); inbound keeps it.
    expect(h.get('x-request-id')).toEqual(['attacker-chosen-id']);
    expect((await http1Get(inbound.port)).status).toBe(200);
  });

  it('inbound over HTTP/2 drops every x-skein-* header too', async () => {
    expectNoSkeinHeaders(await h2Spoofed(inbound.port, '/spoof-inbound-h2'));
  });

  it('outbound (traffic from the local app) generates a request id only when absent and appends to x-forwarded-for', async () => {
    const r = await rawExchange(outbound.port, 'GET /plain HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
    const h = headerMap(JSON.parse(r.responses[0]!.body.toString()) as EchoBody);
    expect(h.get('x-request-id')?.[0]).toMatch(UUID);
    expect(h.get('x-forwarded-for')).toEqual(['127.0.0.1']);
    const spoofed = await rawSpoofed(outbound.port, '/spoof-outbound');
    expect(spoofed.get('x-forwarded-for')).toEqual(['6.6.6.6, 127.0.0.1']);
  });

  it('an x-skein-error set by the upstream is not confused with the proxy own: the proxy error header only comes from the proxy', async () => {
    // A request the proxy answers itself carries exactly one x-skein-error, even if the client sent one.
    const r = await rawExchange(ingress.port, 'GET /x HTTP/1.1\r\nX-Skein-Error: spoofed\r\n\r\n');
    expect(r.responses[0]!.status).toBe(400);
    expect(r.responses[0]!.headers['x-skein-error']).toBe('bad-request');
  });
});
