// The webhook server: app.inject() and a real HTTPS client, hostile bytes on raw TLS sockets, certificate swap under load.
import { request as httpsRequest, Agent } from 'node:https';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podAdmissionReview, samplePod } from './admission-review-fixture.ts';
import { meshSettings } from './mesh-settings.ts';
import { createCertificateAuthority, issueServingCertificate } from './serving-cert.ts';
import { createWebhookServer, type WebhookServer } from './webhook-server.ts';

const ca = createCertificateAuthority({ commonName: 'test-ca', validityMs: 3600_000 });
const leaf = () => issueServingCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityMs: 3600_000 });

let ws: WebhookServer;
let port = 0;

beforeAll(async () => {
  const first = leaf();
  ws = await createWebhookServer({ settings: meshSettings(), tls: { key: first.keyPem, cert: first.certPem }, maxReviewBytes: 64 * 1024, hardBodyLimitBytes: 1024 * 1024, requestTimeoutMs: 1000 });
  await ws.app.listen({ host: '127.0.0.1', port: 0 });
  port = (ws.app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await ws.app.close();
});

interface Reply { status: number; body: string; serial: string }
function post(body: string | Buffer, opts: { agent?: Agent; path?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: opts.path ?? '/mutate', method: 'POST', ca: ca.certPem, servername: 'localhost', agent: opts.agent ?? false, headers: { 'content-type': 'application/json', ...opts.headers } },
      (res) => {
        // Read now: a keep-alive agent detaches the socket once the response ends.
        const cert = (res.socket as unknown as { getPeerCertificate(): PeerCertificate }).getPeerCertificate();
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (data += d));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: data, serial: cert.serialNumber?.toLowerCase() ?? '' });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('webhook server via app.inject()', () => {
  it('a settings change (a trust bundle published) reaches the next answer for the same pod: cached answers are dropped', async () => {
    let settings = meshSettings();
    const own = await createWebhookServer({ settings: () => settings, tls: { key: ca.keyPem, cert: ca.certPem } });
    try {
      const review = JSON.stringify(podAdmissionReview(samplePod()));
      const patch = async () => {
        const res = await own.app.inject({ method: 'POST', url: '/mutate', payload: review, headers: { 'content-type': 'application/json' } });
        return Buffer.from(res.json().response.patch as string, 'base64').toString();
      };
      expect(await patch()).not.toContain('SKEIN_TRUST_ANCHORS');
      expect(await patch()).not.toContain('SKEIN_TRUST_ANCHORS');
      settings = meshSettings({ trustAnchorsPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' });
      expect(await patch()).toContain('SKEIN_TRUST_ANCHORS');
    } finally {
      await own.app.close();
    }
  });
  it('answers an AdmissionReview with a patch', async () => {
    const res = await ws.app.inject({ method: 'POST', url: '/mutate', payload: JSON.stringify(podAdmissionReview(samplePod())), headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  });
  it('any content type (or none) still gets an AdmissionReview answer', async () => {
    for (const headers of [{ 'content-type': 'text/plain' }, {}] as Record<string, string>[]) {
      const res = await ws.app.inject({ method: 'POST', url: '/mutate', payload: 'garbage', headers });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ kind: 'AdmissionReview', response: { allowed: true } });
      expect(res.json().response.warnings[0]).toMatch(/not valid JSON/);
    }
  });
  it('over the review limit: answered (uid kept), not parsed', async () => {
    const pod = samplePod();
    (pod.metadata as Record<string, unknown>).annotations = { filler: 'x'.repeat(200 * 1024) };
    const res = await ws.app.inject({ method: 'POST', url: '/mutate', payload: JSON.stringify(podAdmissionReview(pod)), headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().response.uid).toBe('b3f1c2d4-0000-4000-8000-000000000001');
    expect(res.json().response.warnings[0]).toMatch(/exceeds the injector's limit of 65536 bytes/);
  });
  it('over the hard limit: 413 with an AdmissionReview carrying the message', async () => {
    const res = await ws.app.inject({ method: 'POST', url: '/mutate', payload: Buffer.alloc(2 * 1024 * 1024, 'a'), headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ kind: 'AdmissionReview', response: { allowed: true } });
    expect(res.json().response.status.message).toMatch(/exceeds/);
  });
  it('healthz, metrics, 404', async () => {
    expect((await ws.app.inject({ method: 'GET', url: '/healthz' })).body).toBe('ok\n');
    const metrics = (await ws.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/skein_injector_admissions_total\{result="injected"\} [1-9]/);
    expect(metrics).toMatch(/skein_injector_admissions_total\{result="error"\} [1-9]/);
    expect(metrics).toContain('skein_injector_admission_duration_seconds_bucket');
    expect((await ws.app.inject({ method: 'GET', url: '/nope' })).statusCode).toBe(404);
  });
});

describe('webhook server over real HTTPS', () => {
  it('a TLS client trusting the CA gets the patch', async () => {
    const r = await post(JSON.stringify(podAdmissionReview(samplePod())));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).response.patchType).toBe('JSONPatch');
  });

  function raw(bytes: string | Buffer, waitForClose = true): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost' }, () => s.write(bytes));
      let out = '';
      s.setEncoding('utf8');
      s.on('data', (d) => (out += d));
      s.on('close', () => resolve(out));
      s.on('error', (e) => (waitForClose ? resolve(out || `error:${(e as NodeJS.ErrnoException).code}`) : reject(e)));
    });
  }

  it('garbage instead of HTTP: connection closed, server keeps serving', async () => {
    await raw('\x00\x01GARBAGE\r\n\r\n');
    await raw('POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    expect((await post(JSON.stringify(podAdmissionReview(samplePod())))).status).toBe(200);
  });
  it('plaintext HTTP on the TLS port: handshake fails, server keeps serving', async () => {
    const { connect } = await import('node:net');
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('POST /mutate HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('close', () => resolve());
      s.on('error', () => {});
    });
    expect((await post(JSON.stringify(podAdmissionReview(samplePod())))).status).toBe(200);
  });
  it('slowloris (a body that never completes) is cut at the request timeout', async () => {
    const t0 = Date.now();
    const out = await raw('POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"apiVersion":');
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeLessThan(5000);
    expect(out === '' || /408|AdmissionReview/.test(out)).toBe(true);
    expect((await post(JSON.stringify(podAdmissionReview(samplePod())))).status).toBe(200);
  });
  it('oversized bodies over a real socket: over the review limit answered with its uid, past the hard cap cut with 413; server keeps serving', async () => {
    const pod = samplePod();
    (pod.metadata as Record<string, unknown>).annotations = { filler: 'x'.repeat(600 * 1024) };
    const big = await post(JSON.stringify(podAdmissionReview(pod, {}, 'big-1')));
    expect(big.status).toBe(200);
    expect(JSON.parse(big.body).response).toMatchObject({ uid: 'big-1', allowed: true });
    const huge = await post(Buffer.alloc(3 * 1024 * 1024, 'a')).catch((e: Error) => ({ status: 0, body: e.message, serial: '' }));
    // Either the 413 AdmissionReview arrives or the connection is cut while we are still sending: never a hang.
    expect([0, 413]).toContain(huge.status);
    expect((await post(JSON.stringify(podAdmissionReview(samplePod())))).status).toBe(200);
  });
  it('a "__proto__" key in the review does not pollute anything', async () => {
    const body = JSON.stringify(podAdmissionReview(samplePod())).replace('"metadata":{', '"metadata":{"__proto__":{"polluted":true},');
    const r = await post(body);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).response.patchType).toBe('JSONPatch');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  it('50 concurrent reviews all answered', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 50, ca: ca.certPem });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => post(JSON.stringify(podAdmissionReview(samplePod(), {}, `uid-${i}`)), { agent })));
    agent.destroy();
    expect(results.map((r) => JSON.parse(r.body).response.uid)).toEqual(Array.from({ length: 50 }, (_, i) => `uid-${i}`));
  });
  it('certificate swap: new connections get the new certificate, no request fails during the swap', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 4, ca: ca.certPem });
    const before = await post(JSON.stringify(podAdmissionReview(samplePod())), { agent });
    let failures = 0;
    let done = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const batch = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => post(JSON.stringify(podAdmissionReview(samplePod())), i % 2 === 0 ? { agent } : {})));
        for (const b of batch) {
          if (b.status === 'rejected' || b.value.status !== 200) failures++;
          done++;
        }
      }
    })();
    const serials = new Set<string>([before.serial]);
    for (let i = 0; i < 3; i++) {
      const next = leaf();
      ws.setCertificate({ key: next.keyPem, cert: next.certPem });
      const fresh = await post(JSON.stringify(podAdmissionReview(samplePod())));
      expect(fresh.serial).toBe(next.serial.toLowerCase());
      serials.add(fresh.serial);
    }
    stop = true;
    await load;
    agent.destroy();
    expect(serials.size).toBe(4);
    expect(done).toBeGreaterThan(0);
    expect(failures).toBe(0);
  });
});
