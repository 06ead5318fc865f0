// The identity service against a real API server (the local cluster without a node): the CA Secret bootstrapped once by two
// racing replicas, Certify over TLS with real ServiceAccount tokens (TokenRequest with our audience), refusals for tokens of
// another audience, another or a deleted ServiceAccount, and leaves that two parties use for a TLS 1.3 mutual handshake.
import * as grpc from '@grpc/grpc-js';
import * as k8s from '@kubernetes/client-node';
import { X509Certificate, type KeyObject } from 'node:crypto';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkloadCsr, generateWorkloadKey } from '../../api/identity/pkcs10.ts';
import { IDENTITY_TOKEN_AUDIENCE, loadIdentity, spiffeId, type CertifyRequest, type CertifyResponse } from '../../api/proto/identity.ts';
import { bootstrapCa } from '../../control-plane/identity/ca-bootstrap.ts';
import { CA_SECRET_KEYS } from '../../control-plane/identity/ca-material.ts';
import { KubernetesCaSecretStore } from '../../control-plane/identity/ca-secret-store.ts';
import { REASON_METADATA_KEY } from '../../control-plane/identity/identity-server.ts';
import { startIdentity, type RunningIdentity } from '../../control-plane/identity/start-identity.ts';
import { TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from '../../control-plane/identity/trust-bundle-publisher.ts';
import { applyManifests, readManifests } from '../../local-cluster/apply-manifests.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { join } from 'node:path';

const NS = 'identity-it';
const TD = 'cluster.local';

type CertifyClient = grpc.Client & { Certify(req: CertifyRequest, cb: grpc.requestCallback<CertifyResponse>): grpc.ClientUnaryCall };

interface CertifyOutcome {
  readonly response?: CertifyResponse;
  readonly code?: grpc.status;
  readonly reason?: string;
  readonly details?: string;
}

describe('the identity service on a real API server', () => {
  let cluster: LocalClusterDetails;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let identity: RunningIdentity;
  const registry = new Registry();
  let client: CertifyClient;

  beforeAll(async () => {
    cluster = await startLocalCluster({ withNodeAgent: false, log: () => {} });
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    for (const name of ['checkout', 'cart', 'gone']) await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name } } });
    identity = await startIdentity(kc, { address: '127.0.0.1', port: 0, trustDomain: TD, caNamespace: NS, servingDnsNames: ['localhost'], reloadIntervalMs: 3_600_000 }, registry, () => {});
    const { Client } = loadIdentity();
    const creds = grpc.credentials.createSsl(Buffer.from(identity.keeper.current().trustBundlePem));
    client = new Client(`localhost:${identity.port}`, creds) as unknown as CertifyClient;
  }, 300_000);

  afterAll(async () => {
    client?.close();
    await identity?.stop();
    await cluster?.stop();
  });

  async function token(sa: string, audiences: string[] = [IDENTITY_TOKEN_AUDIENCE]): Promise<string> {
    const tr = await core.createNamespacedServiceAccountToken({ name: sa, namespace: NS, body: { spec: { audiences, expirationSeconds: 600 } } });
    return tr.status!.token!;
  }

  function certify(req: CertifyRequest): Promise<CertifyOutcome> {
    return new Promise((resolve) => {
      client.Certify(req, (e, response) => {
        if (!e) return resolve({ response: response! });
        resolve({ code: e.code, reason: String(e.metadata?.get(REASON_METADATA_KEY)[0] ?? ''), details: e.details });
      });
    });
  }

  const id = (sa: string): string => spiffeId(TD, NS, sa);

  it('created the CA Secret on first start, and racing bootstraps against a fresh Secret end up with one root', async () => {
    const stored = await core.readNamespacedSecret({ name: 'skein-identity-ca', namespace: NS });
    expect(stored.type).toBe('kubernetes.io/tls');
    const root = new X509Certificate(Buffer.from(stored.data![CA_SECRET_KEYS.bundle]!, 'base64').toString());
    expect(identity.keeper.current().trustBundlePem).toBe(root.toString());

    // The roots (never the key) are published for proxies' first connection to Certify.
    const published = await core.readNamespacedConfigMap({ name: TRUST_BUNDLE_CONFIGMAP, namespace: NS });
    expect(published.data?.[TRUST_BUNDLE_KEY]).toBe(identity.keeper.current().trustBundlePem);
    expect(JSON.stringify(published.data)).not.toContain('PRIVATE KEY');

    const store = new KubernetesCaSecretStore(core, NS, 'race-ca');
    const boots = await Promise.all([1, 2, 3].map(() => bootstrapCa(store, { trustDomain: TD, now: Date.now })));
    const fingerprints = boots.map((b) => (b.ok ? b.value.material.signingCert.fingerprint256 : b.error.message));
    expect(new Set(fingerprints).size).toBe(1);
    expect(boots.filter((b) => b.ok && b.value.created)).toHaveLength(1);
    const race = await core.readNamespacedSecret({ name: 'race-ca', namespace: NS });
    expect(new X509Certificate(Buffer.from(race.data![CA_SECRET_KEYS.chain]!, 'base64').toString()).fingerprint256).toBe(fingerprints[0]);
    // A later start uses what is there and writes nothing.
    const later = await bootstrapCa(store, { trustDomain: TD, now: Date.now, generate: () => { throw new Error('must not generate'); } });
    expect(later).toMatchObject({ ok: true, value: { created: false } });
    expect((await core.readNamespacedSecret({ name: 'race-ca', namespace: NS })).metadata!.resourceVersion).toBe(race.metadata!.resourceVersion);
  });

  it('issues a leaf for a real ServiceAccount token with the audience skein.dev/identity', async () => {
    const { privateKey } = generateWorkloadKey();
    const r = await certify({ identity: id('checkout'), token: await token('checkout'), csrPem: buildWorkloadCsr(privateKey, id('checkout')) });
    expect(r.code).toBeUndefined();
    const leaf = new X509Certificate(r.response!.certificateChainPem);
    expect(leaf.subjectAltName).toBe(`URI:${id('checkout')}`);
    expect(leaf.checkPrivateKey(privateKey)).toBe(true);
    expect(leaf.verify(new X509Certificate(r.response!.trustBundlePem).publicKey)).toBe(true);
    expect(Date.parse(r.response!.validUntil)).toBe(Date.parse(leaf.validTo));
  });

  it('refuses a token for another audience, another ServiceAccount, a deleted one, or no real token', async () => {
    const { privateKey } = generateWorkloadKey();
    const csrPem = buildWorkloadCsr(privateKey, id('checkout'));
    const wrongAudience = await certify({ identity: id('checkout'), token: await token('checkout', ['https://vault.example']), csrPem });
    expect(wrongAudience).toMatchObject({ code: grpc.status.UNAUTHENTICATED, reason: 'token_wrong_audience' });
    const otherSa = await certify({ identity: id('checkout'), token: await token('cart'), csrPem });
    expect(otherSa).toMatchObject({ code: grpc.status.PERMISSION_DENIED, reason: 'identity_mismatch' });
    expect(otherSa.details).toContain(`the token proves ${id('cart')}`);
    const goneToken = await token('gone');
    await core.deleteNamespacedServiceAccount({ name: 'gone', namespace: NS });
    const gone = await certify({ identity: id('gone'), token: goneToken, csrPem: buildWorkloadCsr(privateKey, id('gone')) });
    expect(gone).toMatchObject({ code: grpc.status.UNAUTHENTICATED, reason: 'token_invalid' });
    const forged = await certify({ identity: id('checkout'), token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', csrPem });
    expect(forged).toMatchObject({ code: grpc.status.UNAUTHENTICATED, reason: 'token_invalid' });
  });

  it('refuses a CSR for someone else\'s identity with a good token, and an oversized request unread', async () => {
    const { privateKey } = generateWorkloadKey();
    const r = await certify({ identity: id('checkout'), token: await token('checkout'), csrPem: buildWorkloadCsr(privateKey, id('cart')) });
    expect(r).toMatchObject({ code: grpc.status.PERMISSION_DENIED, reason: 'csr_identity_mismatch' });
    const big = await certify({ identity: id('checkout'), token: 'x', csrPem: 'A'.repeat(100 * 1024) });
    expect(big.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('counts what it did by reason', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/^skein_cp_certificates_issued_total [1-9]/m);
    expect(text).toMatch(/^skein_cp_certificates_rejected_total\{reason="token_wrong_audience"\} 1$/m);
    expect(text).toMatch(/^skein_cp_certificates_rejected_total\{reason="identity_mismatch"\} 1$/m);
  });

  it('gives two workloads leaves they use for a TLS 1.3 mutual handshake that checks the peer\'s SPIFFE id', async () => {
    const leafFor = async (sa: string): Promise<{ key: KeyObject; chain: string; bundle: string }> => {
      const { privateKey } = generateWorkloadKey();
      const r = await certify({ identity: id(sa), token: await token(sa), csrPem: buildWorkloadCsr(privateKey, id(sa)) });
      if (!r.response) throw new Error(`certify ${sa}: ${r.details}`);
      return { key: privateKey, chain: r.response.certificateChainPem, bundle: r.response.trustBundlePem };
    };
    const server = await leafFor('cart');
    const clientLeaf = await leafFor('checkout');
    const seen: string[] = [];
    const srv = tls.createServer({ key: server.key.export({ type: 'pkcs8', format: 'pem' }), cert: server.chain, ca: server.bundle, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (s) => {
      seen.push(s.getPeerX509Certificate()?.subjectAltName ?? '');
      s.end('ok');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const c = tls.connect({
          host: '127.0.0.1', port, key: clientLeaf.key.export({ type: 'pkcs8', format: 'pem' }), cert: clientLeaf.chain, ca: clientLeaf.bundle, minVersion: 'TLSv1.3',
          checkServerIdentity: (_host, cert) => (cert.subjectaltname === `URI:${id('cart')}` ? undefined : new Error(`peer is ${cert.subjectaltname}`)),
        }, () => {
          expect(c.getProtocol()).toBe('TLSv1.3');
        });
        let body = '';
        c.on('data', (d: Buffer) => (body += d.toString()));
        c.on('end', () => resolve(body));
        c.on('error', reject);
      });
      expect(answer).toBe('ok');
      expect(seen).toEqual([`URI:${id('checkout')}`]);
    } finally {
      srv.close();
    }
  });

  it('the shipped RBAC lets the control plane\'s own ServiceAccount bootstrap the CA, publish the bundle and review tokens, and no more', async () => {
    const dir = join(import.meta.dirname, '../../manifests/control-plane');
    await applyManifests(cluster.kubeconfigPath, [...readManifests(join(dir, 'namespace.yaml')), ...readManifests(join(dir, 'rbac.yaml'))], () => {});
    const tr = await core.createNamespacedServiceAccountToken({ name: 'skein-control-plane', namespace: 'skein-system', body: { spec: { expirationSeconds: 600 } } });
    const saKc = new k8s.KubeConfig();
    saKc.loadFromOptions({
      clusters: [{ name: 'local', server: kc.getCurrentCluster()!.server, caFile: cluster.caCertPath }],
      users: [{ name: 'control-plane', token: tr.status!.token! }],
      contexts: [{ name: 'cp', cluster: 'local', user: 'control-plane' }],
      currentContext: 'cp',
    });
    const own = await startIdentity(saKc, { address: '127.0.0.1', port: 0, trustDomain: TD, caNamespace: 'skein-system', servingDnsNames: ['localhost'], reloadIntervalMs: 3_600_000 }, new Registry(), () => {});
    const ownClient = new (loadIdentity().Client)(`localhost:${own.port}`, grpc.credentials.createSsl(Buffer.from(own.keeper.current().trustBundlePem))) as unknown as CertifyClient;
    try {
      await own.keeper.tick(); // re-reads the Secret (get) and re-checks the ConfigMap (get) with the ServiceAccount's rights
      const cm = await core.readNamespacedConfigMap({ name: TRUST_BUNDLE_CONFIGMAP, namespace: 'skein-system' });
      expect(cm.data?.[TRUST_BUNDLE_KEY]).toBe(own.keeper.current().trustBundlePem);
      const { privateKey } = generateWorkloadKey();
      const req = { identity: id('checkout'), token: await token('checkout'), csrPem: buildWorkloadCsr(privateKey, id('checkout')) };
      const r = await new Promise<grpc.ServiceError | null>((resolve) => ownClient.Certify(req, (e) => resolve(e)));
      expect(r).toBeNull();
      const saCore = saKc.makeApiClient(k8s.CoreV1Api);
      await expect(saCore.readNamespacedSecret({ name: 'race-ca', namespace: NS })).rejects.toMatchObject({ code: 403 });
      await expect(saCore.listNamespacedSecret({ namespace: 'skein-system' })).rejects.toMatchObject({ code: 403 });
    } finally {
      ownClient.close();
      await own.stop();
    }
  });
});
