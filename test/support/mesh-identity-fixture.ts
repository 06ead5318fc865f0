// A mesh CA (the control plane's own CertificateAuthority, in memory) with an in-process Certify, and workload certificate
// managers whose timers never fire on their own: a test renews exactly when it says so.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { CertifyRequest, CertifyResponse } from '../../api/proto/identity.ts';
import { parseCsr } from '../../api/identity/pkcs10.ts';
import { generateRootSecretData, loadCaMaterial } from '../../control-plane/identity/ca-material.ts';
import { CertificateAuthority } from '../../control-plane/identity/certificate-authority.ts';
import { identityMetrics } from '../../proxy/identity/identity-metrics.ts';
import { CertifyFailure, WorkloadCertificateManager, type ManagerClock } from '../../proxy/identity/workload-certificate-manager.ts';
import { ProxyMetrics } from '../../proxy/telemetry/proxy-metrics.ts';

export class TestCa {
  readonly ca: CertificateAuthority;
  /** Leaf lifetime handed out by certify (short, as the rotation tests want). */
  ttlMs = 10 * 60_000;
  /** Every leaf issued, in order. */
  readonly issued: X509Certificate[] = [];
  /** When set, the next Certify calls fail with it. */
  failWith: CertifyFailure | null = null;
  /** Extra roots sent in the bundle (a root rotation in progress). */
  extraRootsPem = '';

  readonly trustDomain: string;

  constructor(trustDomain = 'cluster.local') {
    this.trustDomain = trustDomain;
    const now = Date.now();
    const m = loadCaMaterial(generateRootSecretData(trustDomain, now), now);
    if (!m.ok) throw new Error(m.error.join('; '));
    this.ca = new CertificateAuthority(m.value);
  }

  get bundlePem(): string {
    return this.ca.trustBundlePem + this.extraRootsPem;
  }

  /** A Certify that checks what the real service checks first (the CSR names exactly the identity asked for). */
  readonly certify = async (req: CertifyRequest): Promise<CertifyResponse> => {
    if (this.failWith) throw this.failWith;
    const csr = parseCsr(req.csrPem);
    if (!csr.ok) throw new CertifyFailure('invalid-argument', csr.error.message);
    const sans = csr.value.sans;
    if (sans.length !== 1 || sans[0]!.type !== 'uri' || sans[0]!.value !== req.identity) throw new CertifyFailure('permission-denied', 'CSR identity mismatch');
    const leaf = this.ca.issueWorkload(csr.value.publicKeySpki, req.identity, Date.now(), this.ttlMs);
    this.issued.push(new X509Certificate(leaf.certificateChainPem));
    return { certificateChainPem: leaf.certificateChainPem, trustBundlePem: this.bundlePem, validUntil: leaf.notAfter.toISOString() };
  };

  /** A leaf and its key for a test's own TLS peer (outside any proxy). */
  issueWithKey(identity: string, ttlMs = this.ttlMs): { certPem: string; keyPem: string } {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = this.ca.issueWorkload(publicKey.export({ type: 'spki', format: 'der' }), identity, Date.now(), ttlMs);
    return { certPem: leaf.certificateChainPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
  }
}

/** Timers recorded, never run: renewals happen when the test calls renewNow(). */
export class ManualClock implements ManagerClock {
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  #next = 1;
  now(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { fn, ms });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
}

export interface TestWorkload {
  readonly manager: WorkloadCertificateManager;
  /** Give these to startProxy (options.metrics) so the certificate metrics are the proxy's. */
  readonly metrics: ProxyMetrics;
  readonly clock: ManualClock;
}

/** A certificate manager for `identity` with its first certificate already installed. */
export async function testWorkload(ca: TestCa, identity: string): Promise<TestWorkload> {
  const metrics = new ProxyMetrics();
  const clock = new ManualClock();
  const manager = new WorkloadCertificateManager({
    identity,
    certify: ca.certify,
    token: async () => 'test-token',
    metrics: identityMetrics(metrics.registry),
    log: () => {},
    clock,
    random: () => 0.5,
  });
  await manager.renewNow();
  if (manager.current() === null) throw new Error(`no certificate for ${identity}: ${manager.notReadyReason()}`);
  return { manager, metrics, clock };
}
