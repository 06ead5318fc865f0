// e2e: certificates over time, under steady traffic (caller -> echo over mTLS, a request every few tens of ms), with
// workload certificates that live 2 minutes: every sidecar renews its leaf with
// zero failed requests; the control plane is stopped (scaled to 0) across a renewal and traffic keeps flowing until it is
// back and the sidecars renew; the trust root is rotated with the procedure of docs/identity.md (trust both roots, sign
// with the new one, drop the old one) with zero failed requests. Every wait is a condition with a deadline; renewals are
// read from the sidecars' metrics and leaves.
import * as k8s from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_PLANE_DEBUG_PORT } from '../../api/proto/config-discovery.ts';
import { IDENTITY_PORT } from '../../api/proto/identity.ts';
import { MESH_NAMESPACE, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from '../../api/mesh/mesh-constants.ts';
import { CA_SECRET_KEYS, CA_SECRET_NAME, generateRootSecretData } from '../../control-plane/identity/ca-material.ts';
import { CONTROL_PLANE_DEPLOYMENT, MESH_APPS, startMeshIdentityCluster, type MeshIdentityCluster } from '../support/mesh-identity-cluster.ts';
import { waitFor } from './wait-for.ts';

/**
 * Leaf lifetime: renewal at 50 % +- 5 % of it (54-66 s: RENEW_AT in proxy/identity/workload-certificate-manager.ts), and at
 * least 54 s of validity left when a renewal first fails, for the control plane to come back from zero replicas in the
 * second test: with 60 s certificates (27 s left) it came back 34 s after the failure on a loaded machine (load average 8).
 */
const CERT_TTL_S = 120;
/** A renewal is due within 0.55 of the lifetime; the deadline allows one failed attempt and the backoff after it. */
const RENEWAL_DEADLINE_MS = CERT_TTL_S * 1000;
/** Where each app's sidecar serves mTLS (the app port, redirected to the sidecar's inbound listener). */
const APP_PORTS: Readonly<Record<(typeof MESH_APPS)[number], number>> = { echo: 8080, caller: 8080, 'grpc-echo': 9090 };

/** caller -> echo through both sidecars, back to back (paced, bounded), counting every answer that is not a 200 from echo. */
class SteadyTraffic {
  ok = 0;
  readonly failures: string[] = [];
  #stopped = false;
  readonly #done: Promise<void>;
  readonly #what: string;

  constructor(mesh: MeshIdentityCluster, what: string, maxMs: number) {
    this.#what = what;
    const until = Date.now() + maxMs;
    this.#done = (async () => {
      for (let i = 0; !this.#stopped && Date.now() < until; i++) {
        try {
          const r = await mesh.viaCaller(`/${what}-${i}`);
          if (r.upstreamStatus === 200) this.ok++;
          else this.failures.push(`${new Date().toISOString()} ${what}-${i}: echo answered ${r.upstreamStatus}`);
        } catch (e) {
          this.failures.push(`${new Date().toISOString()} ${what}-${i}: ${(e as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
  }

  /** Stops after the request in flight; what was counted (and said, for the record of a run). */
  async stop(): Promise<{ ok: number; failures: readonly string[] }> {
    this.#stopped = true;
    await this.#done;
    console.info(`steady traffic ${this.#what}: ${this.ok} answered, ${this.failures.length} failed`);
    return { ok: this.ok, failures: this.failures };
  }
}

/** A metric from Prometheus text: the sum of the series of `name` whose labels contain `labels` (0 when there is none). */
function metricValue(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (labels !== '' && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('mesh identity over time: renewal, the control plane away, root rotation, all under traffic', () => {
  let mesh: MeshIdentityCluster;
  let cpReplicas = 0;

  const renewals = async (app: string): Promise<number> => metricValue(await mesh.sidecarMetrics(app), 'skein_workload_cert_renewals_total');
  const allRenewals = async (): Promise<Map<string, number>> => new Map(await Promise.all(MESH_APPS.map(async (a) => [a, await renewals(a)] as const)));
  /** Waits until every sidecar installed another certificate than the ones counted in `before`. */
  async function everySidecarRenewedSince(before: ReadonlyMap<string, number>, what: string): Promise<void> {
    for (const app of MESH_APPS) await waitFor(`${app}'s sidecar to renew (${what})`, async () => ((await renewals(app)) > before.get(app)! ? true : undefined), RENEWAL_DEADLINE_MS, 500);
  }

  /** The leaf a sidecar serves mTLS with, read from a handshake (the sidecar refuses us after it: we send no certificate). */
  function servedLeaf(app: (typeof MESH_APPS)[number]): Promise<X509Certificate> {
    return servedCertificate(mesh.ips.get(app)!, APP_PORTS[app]);
  }

  function servedCertificate(host: string, port: number, alpn = 'http/1.1'): Promise<X509Certificate> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: [alpn], minVersion: 'TLSv1.3' });
      const timer = setTimeout(() => s.destroy(new Error(`no TLS handshake with ${host}:${port}`)), 10_000);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        const leaf = s.getPeerX509Certificate();
        s.destroy();
        if (leaf === undefined) reject(new Error(`${host}:${port} sent no certificate`));
        else resolve(leaf);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  const caSecret = () => mesh.core.readNamespacedSecret({ name: CA_SECRET_NAME, namespace: MESH_NAMESPACE });
  const decoded = (s: k8s.V1Secret, key: string): string => Buffer.from(s.data?.[key] ?? '', 'base64').toString('utf8');
  /** Replaces some keys of the CA Secret (what `kubectl patch` does in docs/identity.md). */
  async function editCaSecret(data: Readonly<Record<string, string>>): Promise<void> {
    const s = await caSecret();
    const next: Record<string, string> = { ...(s.data ?? {}) };
    for (const [k, v] of Object.entries(data)) next[k] = Buffer.from(v).toString('base64');
    await mesh.core.replaceNamespacedSecret({ name: CA_SECRET_NAME, namespace: MESH_NAMESPACE, body: { ...s, data: next } });
  }
  const publishedRoots = async (): Promise<string[]> => {
    const cm = await mesh.core.readNamespacedConfigMap({ name: TRUST_BUNDLE_CONFIGMAP, namespace: MESH_NAMESPACE });
    return (cm.data?.[TRUST_BUNDLE_KEY] ?? '').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((p) => new X509Certificate(p).fingerprint256) ?? [];
  };
  const controlPlanePods = async (): Promise<k8s.V1Pod[]> =>
    (await mesh.core.listNamespacedPod({ namespace: MESH_NAMESPACE, labelSelector: `app.kubernetes.io/name=${CONTROL_PLANE_DEPLOYMENT}` })).items;
  /** Per control-plane pod, how many times it has reloaded its CA from an edited Secret. */
  const caReloads = async (): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    for (const pod of await controlPlanePods()) {
      const res = await fetch(`http://${pod.status!.podIP!}:${CONTROL_PLANE_DEBUG_PORT}/metrics`, { signal: AbortSignal.timeout(10_000) });
      out.set(pod.metadata!.name!, metricValue(await res.text(), 'skein_cp_ca_reloads_total', 'result="reloaded"'));
    }
    return out;
  };
  /** Edits the CA Secret and waits until every control-plane replica has reloaded it (before, none may be relied on). */
  async function editCaSecretAndReload(data: Readonly<Record<string, string>>, what: string): Promise<void> {
    const before = await caReloads();
    await editCaSecret(data);
    await waitFor(`every control-plane replica to reload the CA (${what})`, async () => {
      const now = await caReloads();
      return [...before].every(([pod, n]) => (now.get(pod) ?? 0) > n) ? true : undefined;
    }, 60_000, 500);
  }
  const scaleControlPlane = (replicas: number) =>
    mesh.apps.patchNamespacedDeploymentScale({ name: CONTROL_PLANE_DEPLOYMENT, namespace: MESH_NAMESPACE, body: { spec: { replicas } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));

  beforeAll(async () => {
    mesh = await startMeshIdentityCluster({ controlPlaneArgs: [`--cert-ttl=${CERT_TTL_S}s`, '--ca-reload-interval=1s'] });
    cpReplicas = (await mesh.apps.readNamespacedDeployment({ name: CONTROL_PLANE_DEPLOYMENT, namespace: MESH_NAMESPACE })).spec?.replicas ?? 1;
    // Traffic flows before anything is measured.
    await waitFor('caller -> echo over the mesh', async () => ((await mesh.viaCaller('/warm-up')).upstreamStatus === 200 ? true : undefined), 120_000, 500);
  }, 900_000);

  afterAll(async () => {
    await mesh?.stop();
  });

  it(`every sidecar renews its ${CERT_TTL_S} s certificate under steady traffic with zero failed requests`, async () => {
    const leaves = new Map(await Promise.all(MESH_APPS.map(async (a) => [a, (await servedLeaf(a)).serialNumber] as const)));
    const before = await allRenewals();
    const expiry = metricValue(await mesh.sidecarMetrics('echo'), 'skein_workload_cert_expiry_timestamp_seconds');
    expect(expiry - Date.now() / 1000, 'a short-lived leaf').toBeLessThanOrEqual(CERT_TTL_S);
    const traffic = new SteadyTraffic(mesh, 'renewal', 5 * 60_000);
    try {
      await everySidecarRenewedSince(before, 'leaf rotation');
    } finally {
      const { ok, failures } = await traffic.stop();
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(0);
    }
    // The leaf each sidecar serves now is another certificate (read on the wire, not from a counter).
    for (const app of MESH_APPS) expect((await servedLeaf(app)).serialNumber, app).not.toBe(leaves.get(app));
  });

  it('with the control plane stopped across a renewal (less than a lifetime), traffic keeps flowing; the sidecars renew once it is back', async () => {
    const failuresBefore = new Map(await Promise.all(MESH_APPS.map(async (a) => [a, metricValue(await mesh.sidecarMetrics(a), 'skein_workload_cert_failures_total')] as const)));
    const traffic = new SteadyTraffic(mesh, 'cp-away', 5 * 60_000);
    let back = false;
    try {
      await scaleControlPlane(0);
      await waitFor('no control-plane pod left', async () => ((await controlPlanePods()).length === 0 ? true : undefined), 60_000, 500);
      // Away until a sidecar's renewal has failed for it (a renewal falls due within 0.55 of the lifetime, so at least 54 s
      // of validity are left then): that sidecar now lives on the certificate it has.
      const failed = await waitFor(
        'a renewal refused while the control plane is away',
        async () => {
          for (const app of MESH_APPS) if (metricValue(await mesh.sidecarMetrics(app), 'skein_workload_cert_failures_total') > failuresBefore.get(app)!) return app;
          return undefined;
        },
        RENEWAL_DEADLINE_MS,
        500,
      );
      const expiresAt = metricValue(await mesh.sidecarMetrics(failed), 'skein_workload_cert_expiry_timestamp_seconds');
      expect(expiresAt - Date.now() / 1000, `${failed}'s certificate is still valid`).toBeGreaterThan(0);
      const renewedBefore = await allRenewals();
      await scaleControlPlane(cpReplicas);
      back = true;
      await waitFor('a ready control-plane pod', async () => ((await controlPlanePods()).some((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined), 120_000, 500);
      await waitFor(`${failed}'s sidecar to renew once the control plane is back`, async () => ((await renewals(failed)) > renewedBefore.get(failed)! ? true : undefined), RENEWAL_DEADLINE_MS, 500);
      // The margin this machine left (the record of a run): how long before its expiry the certificate was replaced.
      console.info(`control plane away: ${failed} renewed ${(expiresAt - Date.now() / 1000).toFixed(1)} s before its certificate expired`);
    } finally {
      if (!back) await scaleControlPlane(cpReplicas).catch(() => {});
      const { ok, failures } = await traffic.stop();
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(0);
    }
  });

  it('rotates the trust root under steady traffic with zero failed requests (docs/identity.md, "Rotating the root with no outage")', async () => {
    const old = await caSecret();
    const oldBundle = decoded(old, CA_SECRET_KEYS.bundle);
    const oldRoot = new X509Certificate(oldBundle);
    const fresh = generateRootSecretData('cluster.local', Date.now());
    const newRootPem = fresh[CA_SECRET_KEYS.chain]!;
    const newRoot = new X509Certificate(newRootPem);
    const both = `${oldBundle.trimEnd()}\n${newRootPem}`;
    const chainsTo = (leaf: X509Certificate, root: X509Certificate): boolean => leaf.checkIssued(root) && leaf.verify(root.publicKey);
    const traffic = new SteadyTraffic(mesh, 'root-rotation', 10 * 60_000);
    try {
      // 2. Trust both roots: the bundle grows, the old root keeps signing.
      await editCaSecretAndReload({ [CA_SECRET_KEYS.bundle]: both }, 'both roots trusted');
      await waitFor('the published bundle to list both roots', async () => ((await publishedRoots()).includes(newRoot.fingerprint256) ? true : undefined), 60_000, 500);
      // 3. Every sidecar holds the new bundle once it has renewed since (the bundle comes with each certificate).
      await everySidecarRenewedSince(await allRenewals(), 'to take the two-root bundle');
      for (const app of MESH_APPS) expect(chainsTo(await servedLeaf(app), oldRoot), `${app} still on the old root`).toBe(true);
      // 4. Sign with the new root, both roots still trusted.
      await editCaSecretAndReload({ [CA_SECRET_KEYS.chain]: newRootPem, [CA_SECRET_KEYS.key]: fresh[CA_SECRET_KEYS.key]!, [CA_SECRET_KEYS.bundle]: both }, 'the new root signs');
      for (const pod of await controlPlanePods()) {
        await waitFor(`control plane ${pod.metadata?.name} to serve under the new root`, async () => (chainsTo(await servedCertificate(pod.status!.podIP!, IDENTITY_PORT, 'h2'), newRoot) ? true : undefined), 60_000, 500);
      }
      // 5. Every leaf replaced by one under the new root (read on the wire).
      for (const app of MESH_APPS) await waitFor(`${app}'s leaf under the new root`, async () => (chainsTo(await servedLeaf(app), newRoot) ? true : undefined), RENEWAL_DEADLINE_MS, 500);
      // 6. Drop the old root; every sidecar drops it at its next renewal.
      await editCaSecretAndReload({ [CA_SECRET_KEYS.bundle]: newRootPem }, 'the old root dropped');
      await waitFor('the published bundle to list the new root alone', async () => {
        const roots = await publishedRoots();
        return roots.length === 1 && roots[0] === newRoot.fingerprint256 ? true : undefined;
      }, 60_000, 500);
      await everySidecarRenewedSince(await allRenewals(), 'to drop the old root');
    } finally {
      const { ok, failures } = await traffic.stop();
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(0);
    }
    for (const app of MESH_APPS) expect(chainsTo(await servedLeaf(app), newRoot), app).toBe(true);
    expect((await mesh.viaCaller('/after-rotation')).upstreamStatus).toBe(200);
  });
});
