// The proxy's Certify client against a real grpc-js server over TLS (serving certificate from the mesh CA): a certificate
// obtained and installed by the manager, refusals mapped to their reason, an untrusted server refused.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIdentity, spiffeId, type CertifyRequest, type CertifyResponse } from '../../api/proto/identity.ts';
import { certifyClient } from '../../proxy/identity/certify-client.ts';
import { identityMetrics } from '../../proxy/identity/identity-metrics.ts';
import { identityAddress } from '../../proxy/identity/sidecar-identity.ts';
import { WorkloadCertificateManager } from '../../proxy/identity/workload-certificate-manager.ts';
import { ProxyMetrics } from '../../proxy/telemetry/proxy-metrics.ts';
import { ManualClock, TestCa } from '../support/mesh-identity-fixture.ts';

const WEB = spiffeId('cluster.local', 'demo', 'web');
const CP_NAME = 'skein-control-plane.skein-system.svc';

describe('Certify client over TLS', () => {
  const ca = new TestCa();
  let server: grpc.Server;
  let port: number;
  let refuse: grpc.status | null = null;

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(loadIdentity().service, {
      Certify: (call: grpc.ServerUnaryCall<CertifyRequest, CertifyResponse>, cb: grpc.sendUnaryData<CertifyResponse>) => {
        if (refuse !== null) return cb({ code: refuse, details: 'refused by the test' });
        ca.certify(call.request).then((r) => cb(null, r), (e: Error) => cb({ code: grpc.status.INTERNAL, details: e.message }));
      },
    });
    const serving = ca.ca.issueServing([CP_NAME], Date.now(), 3600_000);
    const creds = grpc.ServerCredentials.createSsl(Buffer.from(ca.bundlePem), [{ cert_chain: Buffer.from(serving.certChainPem), private_key: Buffer.from(serving.keyPem) }], false);
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? reject(e) : resolve(p))));
  });

  afterAll(() => {
    server?.forceShutdown();
  });

  const manager = (caPem: string) => {
    const metrics = new ProxyMetrics();
    const client = certifyClient({ address: `127.0.0.1:${port}`, caPem, serverName: CP_NAME, timeoutMs: 5_000 });
    const m = new WorkloadCertificateManager({ identity: WEB, certify: client.certify, token: async () => 'token', metrics: identityMetrics(metrics.registry), log: () => {}, clock: new ManualClock(), random: () => 0.5 });
    return { m, metrics, close: client.close };
  };

  it('obtains and installs a certificate for our key and identity', async () => {
    const { m, metrics, close } = manager(ca.bundlePem);
    try {
      await m.renewNow();
      expect(m.notReadyReason()).toBeNull();
      expect(m.current()!.identity).toBe(WEB);
      expect(m.current()!.notAfterMs).toBe(Date.parse(ca.issued.at(-1)!.validTo));
      expect(await metrics.registry.getSingleMetricAsString('skein_workload_cert_expiry_timestamp_seconds')).toMatch(new RegExp(` ${Math.floor(m.current()!.notAfterMs / 1000)}$`, 'm'));
    } finally {
      close();
    }
  });

  it('maps a refusal to its reason and keeps retrying', async () => {
    const { m, metrics, close } = manager(ca.bundlePem);
    refuse = grpc.status.PERMISSION_DENIED;
    try {
      await m.renewNow();
      expect(m.current()).toBeNull();
      expect(m.notReadyReason()).toMatch(/permission-denied: PERMISSION_DENIED: refused by the test/);
      expect(await metrics.registry.getSingleMetricAsString('skein_workload_cert_failures_total')).toMatch(/reason="permission-denied"} 1/);
    } finally {
      refuse = null;
      close();
    }
  });

  it('refuses a server whose certificate does not chain to the root it was given', async () => {
    const { m, close } = manager(new TestCa().bundlePem);
    try {
      await m.renewNow();
      expect(m.current()).toBeNull();
      expect(m.notReadyReason()).toMatch(/unavailable/);
    } finally {
      close();
    }
  });

  it('the identity service is the control plane host on port 15012', () => {
    expect(identityAddress('skein-control-plane.skein-system.svc:15010')).toBe('skein-control-plane.skein-system.svc:15012');
    expect(identityAddress('10.0.0.1:15010')).toBe('10.0.0.1:15012');
  });
});
