// e2e: mesh identity on the local cluster, installed from manifests/: two injected workloads talk over mTLS (the server
// sidecar counts the request as mTLS from the caller's SPIFFE id, and the app sees it in x-skein-client-id), a spoofed
// x-skein-client-id from a plain-text client never reaches the app, a strict MeshTLSPolicy refuses plain text and
// permissive takes it again, and AuthorizationPolicies allow and deny over HTTP and gRPC (403 / PERMISSION_DENIED).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as k8s from '@kubernetes/client-node';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHORIZATION_POLICY_GROUP, AUTHORIZATION_POLICY_PLURAL, AUTHORIZATION_POLICY_VERSION } from '../../api/crd/authorization-policy.ts';
import { MESH_TLS_POLICY_PLURAL } from '../../api/crd/mesh-tls-policy.ts';
import { MESH_IDENTITY_ANNOTATION, MESH_NAMESPACE, PROXY_HEALTH_PORT, PROXY_PROMETHEUS_PATH, TRUST_BUNDLE_CONFIGMAP } from '../../api/mesh/mesh-constants.ts';
import { applyManifests, readManifests } from '../../local-cluster/apply-manifests.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { unavailableDeployments } from '../../local-cluster/demo-mesh-parts.ts';
import { REPO_ROOT } from '../../local-cluster/images/skein-images.ts';
import { waitFor } from './wait-for.ts';

const NS = 'e2e-identity';
const CALLER_ID = `spiffe://cluster.local/ns/${NS}/sa/caller`;

function workloads(): k8s.KubernetesObject[] {
  const env = (extra: Record<string, string>) => [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ...Object.entries(extra).map(([name, value]) => ({ name, value })),
  ];
  const deployment = (name: string, image: string, port: number, extra: Record<string, string>, serviceAccountName?: string, probe: Record<string, unknown> = { httpGet: { path: '/healthz', port } }) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          ...(serviceAccountName ? { serviceAccountName } : {}),
          terminationGracePeriodSeconds: 2,
          containers: [{ name, image, ports: [{ containerPort: port }], env: env({ PORT: String(port), ...extra }), readinessProbe: { ...probe, periodSeconds: 1 } }],
        },
      },
    },
  });
  const service = (name: string, port: number, targetPort: number, portName: string) =>
    ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { selector: { app: name }, ports: [{ name: portName, port, targetPort }] } }) as k8s.KubernetesObject;
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'skein.dev/inject': 'enabled' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'caller', namespace: NS } },
    service('echo', 80, 8080, 'http'),
    service('grpc-echo', 9090, 9090, 'grpc'),
    deployment('echo', 'skein.dev/example-echo:e2e', 8080, {}),
    deployment('caller', 'skein.dev/example-caller:e2e', 8080, { UPSTREAM_URL: `http://echo.${NS}.svc.cluster.local` }, 'caller'),
    deployment('grpc-echo', 'skein.dev/example-grpc-echo:e2e', 9090, {}, undefined, { tcpSocket: { port: 9090 } }),
  ];
}

interface EchoSeen {
  readonly headers: Record<string, string | undefined>;
}

describe('mesh identity on the local cluster', () => {
  let cluster: LocalClusterDetails;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  const ips = new Map<string, string>();
  let EchoClient: grpc.ServiceClientConstructor;

  /** The caller app calls echo's Service through both sidecars (mTLS between them); what the caller and echo saw. */
  async function viaCaller(path: string): Promise<{ upstreamStatus: number; echo: EchoSeen | null }> {
    const res = await fetch(`http://${ips.get('caller')}:8080${path}`, { signal: AbortSignal.timeout(15_000) });
    const doc = (await res.json()) as { upstreamStatus?: number; upstreamBody?: string };
    let echo: EchoSeen | null = null;
    try {
      echo = JSON.parse(doc.upstreamBody ?? '') as EchoSeen;
    } catch {}
    return { upstreamStatus: doc.upstreamStatus ?? 0, echo };
  }

  /**
   * A plain-text request from outside the mesh (the host) straight to echo's pod, through echo's inbound sidecar, on a new
   * connection every time (a kept-alive one would have been judged under the mode in force when it was opened).
   */
  function plainToEcho(path: string, headers: Record<string, string> = {}): Promise<{ status: number; echo: EchoSeen | null } | 'refused'> {
    return new Promise((resolve) => {
      const req = http.request({ host: ips.get('echo'), port: 8080, path, headers, agent: false, timeout: 10_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let echo: EchoSeen | null = null;
          try {
            echo = JSON.parse(text) as EchoSeen;
          } catch {}
          resolve({ status: res.statusCode ?? 0, echo });
        });
        res.on('error', () => resolve('refused'));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve('refused'));
      req.end();
    });
  }

  /** A plain-text gRPC call from the host to grpc-echo's pod: OK, or the status it failed with. */
  async function sayPlain(): Promise<string> {
    const client = new EchoClient(`${ips.get('grpc-echo')}:9090`, grpc.credentials.createInsecure());
    try {
      return await new Promise<string>((resolve) =>
        (client as unknown as { Say(r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void): void }).Say(
          { message: 'hi' },
          new grpc.Metadata(),
          { deadline: Date.now() + 10_000 },
          (e) => resolve(e ? grpc.status[e.code] ?? String(e.code) : 'OK'),
        ),
      );
    } finally {
      client.close();
    }
  }

  async function sidecarMetrics(app: string): Promise<string> {
    const res = await fetch(`http://${ips.get(app)}:${PROXY_HEALTH_PORT}${PROXY_PROMETHEUS_PATH}`, { signal: AbortSignal.timeout(10_000) });
    return res.text();
  }

  const policy = (plural: string, kind: string) => ({
    apply: (name: string, spec: Record<string, unknown>) =>
      custom.createNamespacedCustomObject({ group: AUTHORIZATION_POLICY_GROUP, version: AUTHORIZATION_POLICY_VERSION, namespace: NS, plural, body: { apiVersion: 'skein.dev/v1alpha1', kind, metadata: { name, namespace: NS }, spec } }),
    remove: (name: string) => custom.deleteNamespacedCustomObject({ group: AUTHORIZATION_POLICY_GROUP, version: AUTHORIZATION_POLICY_VERSION, namespace: NS, plural, name }),
  });
  const authz = () => policy(AUTHORIZATION_POLICY_PLURAL, 'AuthorizationPolicy');
  const mtls = () => policy(MESH_TLS_POLICY_PLURAL, 'MeshTLSPolicy');

  beforeAll(async () => {
    const def = protoLoader.loadSync(join(REPO_ROOT, 'examples/grpc-echo/echo.proto'), { keepCase: true });
    EchoClient = (grpc.loadPackageDefinition(def) as unknown as { skein: { examples: { Echo: grpc.ServiceClientConstructor } } }).skein.examples.Echo;
    cluster = await startLocalCluster({ log: () => {} });
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const log = (): void => {};
    const cp = readManifests(join(REPO_ROOT, 'manifests', 'control-plane'));
    await applyManifests(cluster.kubeconfigPath, cp, log);
    expect(await unavailableDeployments(kc, cp, 180_000)).toEqual([]);
    // The injector gives new pods the mesh roots only once the control plane has published them.
    await waitFor('the trust bundle ConfigMap', () => core.readNamespacedConfigMap({ name: TRUST_BUNDLE_CONFIGMAP, namespace: MESH_NAMESPACE }), 60_000);
    const injector = readManifests(join(REPO_ROOT, 'manifests', 'injector'));
    await applyManifests(cluster.kubeconfigPath, injector, log);
    expect(await unavailableDeployments(kc, injector, 180_000)).toEqual([]);
    const apps = workloads();
    await applyManifests(cluster.kubeconfigPath, apps.slice(0, 2), log);
    await waitFor('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: NS }));
    await applyManifests(cluster.kubeconfigPath, apps.slice(2), log);
    expect(await unavailableDeployments(kc, apps, 240_000)).toEqual([]);
    for (const app of ['echo', 'caller', 'grpc-echo']) {
      const pod = await waitFor(`the ${app} pod`, async () => (await core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` })).items.find((p) => p.status?.podIP && !p.metadata?.deletionTimestamp));
      expect(pod.metadata?.annotations?.[MESH_IDENTITY_ANNOTATION], `${app} has a mesh identity`).toBe('enabled');
      ips.set(app, pod.status!.podIP!);
    }
  }, 600_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('caller -> echo goes over mTLS: echo\'s sidecar counts it as mTLS from the caller\'s identity, and echo sees x-skein-client-id', async () => {
    const r = await waitFor('echo to see the caller\'s identity', async () => {
      const x = await viaCaller('/hello');
      return x.upstreamStatus === 200 && x.echo?.headers['x-skein-client-id'] === CALLER_ID ? x : undefined;
    }, 120_000);
    expect(r.echo!.headers['x-skein-client-id']).toBe(CALLER_ID);
    // On the wire: echo's sidecar terminated a verified mTLS connection from that identity (no header involved).
    const m = await sidecarMetrics('echo');
    const line = m.split('\n').find((l) => l.startsWith('skein_requests_total{') && l.includes('direction="inbound"') && l.includes('mtls="true"') && l.includes(`source_identity="${CALLER_ID}"`));
    expect(line, 'an inbound mTLS request from the caller in echo\'s sidecar metrics').toBeDefined();
    expect(Number(line!.split(' ').pop())).toBeGreaterThan(0);
  });

  it('a spoofed x-skein-client-id from a plain-text client never reaches the app', async () => {
    const r = await plainToEcho('/spoof', { 'x-skein-client-id': CALLER_ID, 'X-Skein-Client-Id': 'spiffe://evil/ns/x/sa/y' });
    expect(r).not.toBe('refused');
    if (r === 'refused') return;
    expect(r.status).toBe(200);
    expect(r.echo?.headers).toBeDefined();
    expect(r.echo!.headers['x-skein-client-id']).toBeUndefined();
  });

  it('a strict MeshTLSPolicy refuses plain text (mTLS callers still pass); permissive accepts it again', async () => {
    expect(await plainToEcho('/before')).toMatchObject({ status: 200 });
    await mtls().apply('strict', { mode: 'Strict' });
    try {
      await waitFor('plain text to echo refused', async () => ((await plainToEcho('/strict')) === 'refused' ? true : undefined), 60_000);
      // Refused on every try, not once by chance.
      for (let i = 0; i < 5; i++) expect(await plainToEcho(`/strict-${i}`)).toBe('refused');
      const viaMesh = await viaCaller('/strict-mesh');
      expect(viaMesh.upstreamStatus).toBe(200);
      expect(viaMesh.echo?.headers['x-skein-client-id']).toBe(CALLER_ID);
      // A workload policy naming the port overrides the namespace's mode for it.
      await mtls().apply('echo-port-permissive', { selector: { matchLabels: { app: 'echo' } }, ports: [{ port: 8080, mode: 'Permissive' }] });
      await waitFor('plain text to echo accepted on its permissive port', async () => ((await plainToEcho('/permissive')) !== 'refused' ? true : undefined), 60_000);
      expect(await plainToEcho('/permissive-again')).toMatchObject({ status: 200 });
    } finally {
      await mtls().remove('echo-port-permissive').catch(() => {});
      await mtls().remove('strict');
    }
    await waitFor('permissive again', async () => ((await plainToEcho('/after')) !== 'refused' ? true : undefined), 60_000);
  });

  it('an AuthorizationPolicy over HTTP: the caller\'s identity may GET /api, anything else is 403 and never reaches the app', async () => {
    await authz().apply('echo-api-from-caller', {
      targetRef: { kind: 'Service', name: 'echo' },
      rules: [{ from: [{ serviceAccounts: [{ name: 'caller' }] }], to: [{ paths: [{ type: 'PathPrefix', value: '/api' }], methods: ['GET'] }] }],
    });
    try {
      await waitFor('the policy in force at echo', async () => ((await viaCaller('/admin')).upstreamStatus === 403 ? true : undefined), 60_000);
      const allowed = await viaCaller('/api/items');
      expect(allowed.upstreamStatus).toBe(200);
      expect(allowed.echo?.headers['x-skein-client-id']).toBe(CALLER_ID);
      expect((await viaCaller('/admin')).upstreamStatus).toBe(403);
      // Unauthenticated (plain text from outside the mesh): not the caller's identity.
      expect(await plainToEcho('/api/items')).toMatchObject({ status: 403, echo: null });
      const m = await sidecarMetrics('echo');
      expect(m).toMatch(new RegExp(`skein_authorization_decisions_total\\{listener="inbound",policy="${NS}/echo-api-from-caller",decision="allow",reason="policy"\\} [1-9]`));
      expect(m).toMatch(new RegExp(`skein_authorization_decisions_total\\{listener="inbound",policy="${NS}/echo-api-from-caller",decision="deny",reason="no-match"\\} [1-9]`));
      // The Lease holder wrote the policy's status.
      const status = await waitFor('the policy\'s Accepted condition', async () => {
        const o = (await custom.getNamespacedCustomObject({ group: AUTHORIZATION_POLICY_GROUP, version: AUTHORIZATION_POLICY_VERSION, namespace: NS, plural: AUTHORIZATION_POLICY_PLURAL, name: 'echo-api-from-caller' })) as { status?: { conditions?: { type: string; status: string }[] } };
        return o.status?.conditions?.find((c) => c.type === 'Accepted');
      }, 60_000);
      expect(status.status).toBe('True');
    } finally {
      await authz().remove('echo-api-from-caller');
    }
    await waitFor('the policy gone', async () => ((await viaCaller('/admin')).upstreamStatus === 200 ? true : undefined), 60_000);
  });

  it('an AuthorizationPolicy over gRPC: an allowed call answers OK, a denied one is PERMISSION_DENIED', async () => {
    expect(await sayPlain()).toBe('OK');
    await authz().apply('grpc-only-caller', { selector: { matchLabels: { app: 'grpc-echo' } }, rules: [{ from: [{ serviceAccounts: [{ name: 'caller' }] }] }] });
    try {
      await waitFor('the gRPC call denied', async () => ((await sayPlain()) === 'PERMISSION_DENIED' ? true : undefined), 60_000);
      // Unauthenticated callers may call Say once a rule names it.
      await authz().apply('grpc-say-for-anyone', { selector: { matchLabels: { app: 'grpc-echo' } }, rules: [{ from: [{ unauthenticated: true }], to: [{ paths: [{ type: 'Exact', value: '/skein.examples.Echo/Say' }], methods: ['POST'] }] }] });
      await waitFor('the gRPC call allowed', async () => ((await sayPlain()) === 'OK' ? true : undefined), 60_000);
    } finally {
      await authz().remove('grpc-say-for-anyone').catch(() => {});
      await authz().remove('grpc-only-caller');
    }
  });
});
