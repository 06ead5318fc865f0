// e2e: the local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) really works, and stops cleanly.
import * as k8s from '@kubernetes/client-node';
import { existsSync, readdirSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../local-cluster/certificates.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { clusterStateDir } from '../../local-cluster/state-file.ts';
import { processAlive, waitFor } from './wait-for.ts';

const NS = 'e2e-cluster';
// A Node object with nobody behind it: enough for the scheduler to bind pods, independent of the node agent.
const FAKE_NODE = 'e2e-fake-node';

describe('local cluster control plane', () => {
  let cluster: LocalClusterDetails;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let authn: k8s.AuthenticationV1Api;
  const lines: string[] = [];

  beforeAll(async () => {
    cluster = await startLocalCluster({ withNodeAgent: false, log: (l) => lines.push(l) });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    authn = kc.makeApiClient(k8s.AuthenticationV1Api);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts all four components and serves the API at 127.0.0.1 with the admin kubeconfig', async () => {
    expect(cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cluster.processes.map((p) => p.name)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'hello' }, data: { greeting: 'hi' } } });
    const cm = await core.readNamespacedConfigMap({ name: 'hello', namespace: NS });
    expect(cm.data).toEqual({ greeting: 'hi' });
    // The controller-manager's root-CA publisher ran: every namespace gets the cluster CA.
    const rootCa = await waitFor('kube-root-ca.crt', async () => core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: NS }));
    expect(rootCa.data?.['ca.crt']).toContain('BEGIN CERTIFICATE');
  });

  it('issues projected service-account tokens with a custom audience that TokenReview accepts', async () => {
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'e2e-sa' } } });
    const tr = await core.createNamespacedServiceAccountToken({
      name: 'e2e-sa',
      namespace: NS,
      body: { spec: { audiences: ['skein-e2e'], expirationSeconds: 600 } },
    });
    const token = tr.status?.token;
    expect(token).toBeTruthy();
    const review = await authn.createTokenReview({ body: { spec: { token: token!, audiences: ['skein-e2e'] } } });
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe(`system:serviceaccount:${NS}:e2e-sa`);
    expect(review.status?.audiences).toEqual(['skein-e2e']);
    // The same token presented for another audience is refused.
    const wrong = await authn.createTokenReview({ body: { spec: { token: token!, audiences: ['someone-else'] } } });
    expect(wrong.status?.authenticated).not.toBe(true);
  });

  it('runs the Deployment and ReplicaSet controllers and the scheduler binds the pods to a node', async () => {
    await core.createNode({
      body: {
        metadata: { name: FAKE_NODE, labels: { 'kubernetes.io/hostname': FAKE_NODE } },
        status: {
          capacity: { cpu: '4', memory: '8Gi', pods: '110' },
          allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
          conditions: [{ type: 'Ready', status: 'True', reason: 'E2E', message: 'fake node', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() }],
        },
      },
    });
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'example/web:1' }] } },
        },
      },
    });
    const rs = await waitFor('a ReplicaSet of the Deployment', async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=web' });
      return list.items[0];
    });
    expect(rs.metadata?.ownerReferences?.[0]?.name).toBe('web');
    const pods = await waitFor('2 pods bound to the fake node', async () => {
      const list = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' });
      const bound = list.items.filter((p) => p.spec?.nodeName === FAKE_NODE);
      return bound.length === 2 ? bound : undefined;
    });
    for (const p of pods) {
      expect(p.metadata?.ownerReferences?.[0]?.name).toBe(rs.metadata?.name);
      // The ServiceAccount admission plugin mounted a projected token volume.
      expect(p.spec?.volumes?.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken))).toBe(true);
    }
  });

  it('runs the EndpointSlice controller: a Service lists the ready pods the node reported', async () => {
    await core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    });
    const pods = (await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' })).items;
    // Play the node's part: report each pod running and ready with an IP, as a kubelet (our node agent) does.
    const ips: string[] = [];
    for (const [i, p] of pods.entries()) {
      const ip = `10.244.0.${100 + i}`;
      ips.push(ip);
      await waitFor(`status of ${p.metadata?.name}`, async () => {
        const latest = await core.readNamespacedPod({ name: p.metadata!.name!, namespace: NS });
        const now = new Date();
        return core.replaceNamespacedPodStatus({
          name: p.metadata!.name!,
          namespace: NS,
          body: {
            ...latest,
            status: {
              ...latest.status,
              phase: 'Running',
              podIP: ip,
              podIPs: [{ ip }],
              conditions: [
                { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
                { type: 'Ready', status: 'True', lastTransitionTime: now },
                { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
              ],
            },
          },
        });
      }, 20_000);
    }
    const discovery = new k8s.KubeConfig();
    discovery.loadFromFile(cluster.kubeconfigPath);
    const dapi = discovery.makeApiClient(k8s.DiscoveryV1Api);
    const listed = await waitFor('an EndpointSlice with both pod IPs ready', async () => {
      const slices = await dapi.listNamespacedEndpointSlice({ namespace: NS, labelSelector: 'kubernetes.io/service-name=web' });
      const ready = slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses));
      return ready.length === ips.length ? ready.sort() : undefined;
    }, 60_000);
    expect(listed).toEqual(ips.sort());
  });

  it('calls a mutating admission webhook addressed by Service at its endpoint, as the injector is', async () => {
    const ca = createCertificateAuthority('e2e-webhook-ca');
    // The apiserver checks the certificate against <service>.<namespace>.svc, whatever address it dials.
    const serving = issueCertificate(ca, { commonName: 'e2e-hook.e2e-webhook.svc', server: true, dnsNames: ['e2e-hook.e2e-webhook.svc'] });
    let calls = 0;
    const server = createHttpsServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        calls++;
        const review = JSON.parse(body) as { request: { uid: string } };
        const patch = [{ op: 'add', path: '/metadata/labels', value: { 'skein.dev/mutated': 'yes' } }];
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') },
          }),
        );
      });
    });
    // Endpoint addresses may not be loopback, so the webhook listens on the host address (where pod IPs would be).
    await new Promise<void>((r) => server.listen(0, cluster.advertiseAddress, r));
    try {
      const port = (server.address() as AddressInfo).port;
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(cluster.kubeconfigPath);
      const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
      const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
      await core.createNamespace({ body: { metadata: { name: 'e2e-webhook', labels: { 'e2e-webhook': 'on' } } } });
      // A selector-less Service whose EndpointSlice we write ourselves, standing in for the injector's pods.
      await core.createNamespacedService({ namespace: 'e2e-webhook', body: { metadata: { name: 'e2e-hook' }, spec: { ports: [{ name: 'https', port: 443, targetPort: port }] } } });
      await discovery.createNamespacedEndpointSlice({
        namespace: 'e2e-webhook',
        body: {
          metadata: { name: 'e2e-hook-1', labels: { 'kubernetes.io/service-name': 'e2e-hook', 'endpointslice.kubernetes.io/managed-by': 'e2e.skein.dev' } },
          addressType: 'IPv4',
          endpoints: [{ addresses: [cluster.advertiseAddress], conditions: { ready: true } }],
          ports: [{ name: 'https', port, protocol: 'TCP' }],
        },
      });
      await admission.createMutatingWebhookConfiguration({
        body: {
          metadata: { name: 'e2e-mutator' },
          webhooks: [
            {
              name: 'mutator.e2e.skein.dev',
              admissionReviewVersions: ['v1'],
              sideEffects: 'None',
              failurePolicy: 'Fail',
              clientConfig: { service: { namespace: 'e2e-webhook', name: 'e2e-hook', path: '/mutate', port: 443 }, caBundle: Buffer.from(ca.certPem).toString('base64') },
              namespaceSelector: { matchLabels: { 'e2e-webhook': 'on' } },
              rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
            },
          ],
        },
      });
      // The apiserver's webhook configuration cache catches up asynchronously: retry creating until the webhook has run.
      const cm = await waitFor('the webhook to mutate a ConfigMap', async () => {
        const name = `cm-${Date.now()}`;
        const created = await core.createNamespacedConfigMap({ namespace: 'e2e-webhook', body: { metadata: { name }, data: { a: 'b' } } });
        return created.metadata?.labels?.['skein.dev/mutated'] === 'yes' ? created : undefined;
      }, 30_000);
      expect(cm.metadata?.labels).toEqual({ 'skein.dev/mutated': 'yes' });
      expect(calls).toBeGreaterThan(0);
      await admission.deleteMutatingWebhookConfiguration({ name: 'e2e-mutator' });
    } finally {
      server.close();
    }
  });

  it('answers the kubernetes Service at its ClusterIP from the service range', async () => {
    const svc = await core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    expect(svc.spec?.clusterIP).toBe('10.96.0.1');
  });

  it('stop() ends every component process, frees the API port and removes its state', async () => {
    const pids = cluster.processes.map((p) => p.pid);
    expect(pids.every(processAlive)).toBe(true);
    await cluster.stop();
    expect(pids.filter(processAlive)).toEqual([]);
    expect(existsSync(cluster.workDir)).toBe(false);
    expect(readdirSync(clusterStateDir()).filter((f) => f.startsWith(`${process.pid}-`))).toEqual([]);
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(cluster.apiserverPort, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.on('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });
});
