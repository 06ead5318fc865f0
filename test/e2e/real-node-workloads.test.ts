// e2e: workloads on the real node (kubelet + containerd), what the node agent's tests covered, now against Kubernetes itself:
// a Deployment's pods are scheduled, run their init container first and become Ready; EndpointSlices list their IPs; `kubectl
// logs` and Events come from the kubelet; pod-to-pod HTTP over the bridge; Service names (ClusterIP and headless) resolve
// through the cluster DNS; the gRPC example answers over HTTP/2 at its pod IP; a Job with a native sidecar completes using its
// projected token against the API; a projected token, a ConfigMap and a Secret are mounted; deletion stops the containers and
// removes the pods' network namespaces; teardown leaves no container process or namespace behind.
import * as k8s from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESH_TOKEN_AUDIENCE, MESH_TOKEN_PATH, PROXY_UID } from '../../api/mesh/mesh-constants.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { REPO_ROOT, SHELL_IMAGE } from '../../local-cluster/images/skein-images.ts';
import { REAL_NODE_BRIDGE } from '../../local-cluster/real-node/node-configs.ts';
import { podPid } from './pod-netns.ts';
import { processAlive, waitFor } from './wait-for.ts';

const NS = 'e2e-workloads';
const NODE = 'skein-local';
const PINNED_NODE = join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node');

/** The pods' network namespaces (the CNI plugins name them cni-<uuid>). */
function podNetns(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('cni-'));
}
function ready(p: k8s.V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

describe('workloads on the real node', () => {
  let cluster: LocalClusterDetails;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let batch: k8s.BatchV1Api;
  let discovery: k8s.DiscoveryV1Api;
  let coord: k8s.CoordinationV1Api;
  let authn: k8s.AuthenticationV1Api;
  let stopped = false;
  const lines: string[] = [];
  let echoPods: k8s.V1Pod[] = [];

  beforeAll(async () => {
    cluster = await startLocalCluster({ node: 'kubelet', log: (l) => lines.push(l) });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    batch = kc.makeApiClient(k8s.BatchV1Api);
    discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    coord = kc.makeApiClient(k8s.CoordinationV1Api);
    authn = kc.makeApiClient(k8s.AuthenticationV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await waitFor('the default ServiceAccount', async () => core.readNamespacedServiceAccount({ name: 'default', namespace: NS }));
  });

  afterAll(async () => {
    if (!stopped) await cluster?.stop();
  });

  const kubectl = (args: string[]): string =>
    execFileSync(cluster.kubectl!, ['--kubeconfig', cluster.kubeconfigPath, '-n', NS, ...args], { encoding: 'utf8', timeout: 60_000 });
  /** Runs a Node.js one-liner in a pod's container (`kubectl exec`): what the pod itself sees (its DNS, its routes). */
  const nodeIn = (pod: string, script: string): string => kubectl(['exec', pod, '--', '/usr/local/bin/node', '-e', script]);

  it('registers a Ready node with its address and a lease', async () => {
    const node = await waitFor('node Ready', async () => {
      const n = await core.readNode({ name: NODE });
      return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? n : undefined;
    });
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: cluster.advertiseAddress });
    // The kubelet takes its lease just after it registers the node.
    const lease = await waitFor('the node lease', () => coord.readNamespacedLease({ name: NODE, namespace: 'kube-node-lease' }), 30_000);
    expect(lease.spec?.holderIdentity).toBe(NODE);
  });

  it('runs a Deployment: init container first, pods Ready with IPs, EndpointSlices list them', async () => {
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'echo' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'echo' } },
          template: {
            metadata: { labels: { app: 'echo' } },
            spec: {
              terminationGracePeriodSeconds: 10,
              initContainers: [{
                name: 'init', image: SHELL_IMAGE, imagePullPolicy: 'IfNotPresent',
                command: ['sh', '-c', 'echo init-ran-as-$(cat /etc/hostname); test -s /var/run/secrets/kubernetes.io/serviceaccount/token && cat /var/run/secrets/kubernetes.io/serviceaccount/namespace'],
              }],
              containers: [{
                name: 'echo', image: 'skein.dev/example-echo:e2e',
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ],
                ports: [{ name: 'http', containerPort: 8080 }],
                securityContext: { runAsUser: 1000, runAsGroup: 1000 },
                readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
              }],
            },
          },
        },
      },
    });
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'echo' }, spec: { selector: { app: 'echo' }, ports: [{ port: 80, targetPort: 8080 }] } } });
    const t0 = Date.now();
    echoPods = await waitFor('2 Ready echo pods', async () => {
      const l = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=echo' });
      return l.items.length === 2 && l.items.every(ready) ? l.items : undefined;
    }, 120_000);
    lines.push(`echo pods Ready ${Date.now() - t0} ms after the Deployment was created`);
    for (const p of echoPods) {
      expect(p.spec?.nodeName).toBe(NODE);
      expect(p.status?.phase).toBe('Running');
      expect(p.status?.podIP).toMatch(/^10\.245\.0\.\d+$/);
      expect(p.status?.hostIP).toBe(cluster.advertiseAddress);
      const init = p.status?.initContainerStatuses?.[0]?.state?.terminated;
      const app = p.status?.containerStatuses?.[0]?.state?.running;
      expect(init?.exitCode).toBe(0);
      expect(new Date(init!.finishedAt!).getTime()).toBeLessThanOrEqual(new Date(app!.startedAt!).getTime());
      // `kubectl logs` path: the API server asks the kubelet.
      expect(await core.readNamespacedPodLog({ name: p.metadata!.name!, namespace: NS, container: 'init' })).toBe(`init-ran-as-${p.metadata!.name}\n${NS}`);
      const appLog = await core.readNamespacedPodLog({ name: p.metadata!.name!, namespace: NS, container: 'echo' });
      expect(appLog).toContain(`echo ${p.metadata!.name} listening on :8080`);
      expect(await core.readNamespacedPodLog({ name: p.metadata!.name!, namespace: NS, container: 'init', tailLines: 1 })).toBe(NS);
    }
    // `kubectl describe pod` shows the kubelet's Events.
    const events = await waitFor('Started events', async () => {
      const l = await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${echoPods[0]!.metadata!.name}` });
      return l.items.some((e) => e.reason === 'Started' && e.involvedObject.fieldPath === 'spec.containers{echo}') ? l.items : undefined;
    });
    expect(events.find((e) => e.reason === 'Started')?.source?.component).toBe('kubelet');
    const ips = echoPods.map((p) => p.status!.podIP!).sort();
    const sliceIps = await waitFor('EndpointSlices with both pod IPs', async () => {
      const l = await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: 'kubernetes.io/service-name=echo' });
      const got = l.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses)).sort();
      return JSON.stringify(got) === JSON.stringify(ips) ? got : undefined;
    });
    expect(sliceIps).toEqual(ips);
  });

  it('carries pod-to-pod HTTP over the bridge', async () => {
    const target = echoPods[0]!;
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'caller', labels: { app: 'caller' } },
        spec: {
          containers: [{
            name: 'caller', image: 'skein.dev/example-caller:e2e',
            env: [{ name: 'UPSTREAM_URL', value: `http://${target.status!.podIP}:8080/` }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          }],
        },
      },
    });
    const caller = await waitFor('caller Ready', async () => { const p = await core.readNamespacedPod({ name: 'caller', namespace: NS }); return ready(p) ? p : undefined; }, 60_000);
    const res = await fetch(`http://${caller.status!.podIP}:8080/through`);
    const body = (await res.json()) as { pod: string; upstreamStatus: number; upstreamBody: string };
    expect(body.pod).toBe('caller');
    expect(body.upstreamStatus).toBe(200);
    const echoed = JSON.parse(body.upstreamBody) as { pod: string; url: string; namespace: string };
    expect(echoed).toMatchObject({ pod: target.metadata!.name, url: '/through', namespace: NS });
    // Names as the pod resolves them: Services through the cluster DNS (CoreDNS), its own name through the kubelet's hosts file.
    const svc = await core.readNamespacedService({ name: 'echo', namespace: NS });
    const lookup = (name: string): string[] =>
      JSON.parse(nodeIn('caller', `require('node:dns').promises.lookup(${JSON.stringify(name)}, { all: true }).then((a) => console.log(JSON.stringify(a.map((x) => x.address).sort())))`)) as string[];
    expect(lookup('echo')).toEqual([svc.spec!.clusterIP]);
    expect(lookup(`echo.${NS}.svc.cluster.local`)).toEqual([svc.spec!.clusterIP]);
    expect(lookup('caller')).toEqual([caller.status!.podIP]);
    expect(lookup('kubernetes.default.svc')).toEqual(['10.96.0.1']);
    // A headless Service resolves to its ready endpoints (pod IPs), which unmeshed pods can reach.
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'echo-direct' }, spec: { clusterIP: 'None', selector: { app: 'echo' }, ports: [{ port: 8080 }] } } });
    const podIps = echoPods.map((p) => p.status!.podIP!);
    const direct = await waitFor('echo-direct in the cluster DNS', async () => {
      const ips = lookup('echo-direct');
      return ips.length === 2 ? ips : undefined;
    }, 30_000, 1000);
    expect(direct).toEqual([...podIps].sort());
  });

  it('runs the gRPC example, answering over HTTP/2 at its pod IP', async () => {
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'grpc-echo' },
        spec: { containers: [{
          name: 'grpc', image: 'skein.dev/example-grpc-echo:e2e', env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          readinessProbe: { tcpSocket: { port: 9090 }, periodSeconds: 1 },
        }] },
      },
    });
    const pod = await waitFor('grpc-echo Ready', async () => { const p = await core.readNamespacedPod({ name: 'grpc-echo', namespace: NS }); return ready(p) ? p : undefined; }, 60_000);
    const out = execFileSync(PINNED_NODE, [join(REPO_ROOT, 'examples', 'grpc-echo', 'client.ts'), `${pod.status!.podIP}:9090`, 'ping'], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ message: 'ping', pod: 'grpc-echo' });
  });

  it('completes a Job whose pod has a native sidecar and calls the API with its projected token', async () => {
    const script = [
      "const fs=require('fs'),https=require('https');",
      "const d='/var/run/secrets/kubernetes.io/serviceaccount/';",
      "const req=https.request({host:process.env.KUBERNETES_SERVICE_HOST,port:process.env.KUBERNETES_SERVICE_PORT,method:'POST',",
      "path:'/apis/authentication.k8s.io/v1/selfsubjectreviews',ca:fs.readFileSync(d+'ca.crt'),",
      "headers:{authorization:'Bearer '+fs.readFileSync(d+'token','utf8'),'content-type':'application/json'}},",
      "r=>{let b='';r.on('data',c=>b+=c);r.on('end',()=>{console.log(JSON.parse(b).status.userInfo.username);process.exit(r.statusCode===201?0:1)})});",
      "req.end(JSON.stringify({apiVersion:'authentication.k8s.io/v1',kind:'SelfSubjectReview'}));",
    ].join('');
    await batch.createNamespacedJob({
      namespace: NS,
      body: {
        metadata: { name: 'whoami' },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: 'Never',
              initContainers: [{ name: 'sidecar', image: SHELL_IMAGE, imagePullPolicy: 'IfNotPresent', restartPolicy: 'Always', command: ['sh', '-c', 'while true; do sleep 1; done'] }],
              containers: [{ name: 'main', image: 'skein.dev/example-echo:e2e', command: ['/usr/local/bin/node', '-e', script] }],
            },
          },
        },
      },
    });
    const job = await waitFor('Job complete', async () => {
      const j = await batch.readNamespacedJob({ name: 'whoami', namespace: NS });
      if (j.status?.failed) throw new Error('the Job failed');
      return j.status?.succeeded === 1 ? j : undefined;
    }, 120_000);
    expect(job.status?.succeeded).toBe(1);
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'job-name=whoami' });
    const p = pods.items[0]!;
    expect(p.status?.phase).toBe('Succeeded');
    expect(p.status?.initContainerStatuses?.[0]?.state?.terminated).toBeDefined();
    const log = await core.readNamespacedPodLog({ name: p.metadata!.name!, namespace: NS, container: 'main' });
    expect(log.trim()).toBe(`system:serviceaccount:${NS}:default`);
  });

  it('mounts a projected token with the mesh audience, a ConfigMap and a Secret at their mountPaths', async () => {
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'cfg' }, data: { greeting: 'hello' } } });
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'sec' }, stringData: { pw: 's3cret' } } });
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'volumes' },
        spec: {
          restartPolicy: 'Never',
          volumes: [
            { name: 'mesh-token', projected: { sources: [{ serviceAccountToken: { audience: MESH_TOKEN_AUDIENCE, expirationSeconds: 3600, path: 'token' } }] } },
            { name: 'cfg', configMap: { name: 'cfg' } },
            { name: 'sec', secret: { secretName: 'sec' } },
          ],
          containers: [{
            name: 'main', image: SHELL_IMAGE, imagePullPolicy: 'IfNotPresent', securityContext: { runAsUser: PROXY_UID },
            command: ['sh', '-c', `cat /etc/skein-e2e/cfg/greeting; echo; cat /etc/skein-e2e/sec/pw; echo; cat ${MESH_TOKEN_PATH}`],
            volumeMounts: [
              { name: 'mesh-token', mountPath: dirname(MESH_TOKEN_PATH), readOnly: true },
              { name: 'cfg', mountPath: '/etc/skein-e2e/cfg' },
              { name: 'sec', mountPath: '/etc/skein-e2e/sec', readOnly: true },
            ],
          }],
        },
      },
    });
    const pod = await waitFor('volumes pod Succeeded', async () => {
      const p = await core.readNamespacedPod({ name: 'volumes', namespace: NS });
      if (p.status?.phase === 'Failed') throw new Error('the pod failed');
      return p.status?.phase === 'Succeeded' ? p : undefined;
    }, 60_000);
    const [greeting, pw, token] = (await core.readNamespacedPodLog({ name: 'volumes', namespace: NS, container: 'main' })).split('\n');
    expect([greeting, pw]).toEqual(['hello', 's3cret']);
    const review = await authn.createTokenReview({ body: { spec: { token: token!, audiences: [MESH_TOKEN_AUDIENCE] } } });
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe(`system:serviceaccount:${NS}:default`);
    expect(review.status?.user?.extra?.['authentication.kubernetes.io/pod-uid']).toEqual([pod.metadata!.uid]);
    // The mounts were private to the container: the host sees no token at the mountPath.
    expect(existsSync(MESH_TOKEN_PATH)).toBe(false);
  });

  it('deleting the Deployment stops its containers and removes the pods and their network namespaces', async () => {
    const pids = echoPods.map((p) => podPid(cluster.realNode!.containerdSocket, p));
    expect(pids.every((pid) => pid > 0 && processAlive(pid))).toBe(true);
    const netnsBefore = podNetns();
    await apps.deleteNamespacedDeployment({ name: 'echo', namespace: NS, propagationPolicy: 'Foreground' });
    await waitFor('echo pods gone', async () => {
      const l = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=echo' });
      return l.items.length === 0 ? true : undefined;
    }, 120_000);
    expect(pids.filter(processAlive)).toEqual([]);
    // The kubelet tears the sandbox down (and the CNI plugin its netns) just after the pod object goes.
    await waitFor('the pods\' network namespaces removed', async () => (podNetns().length === netnsBefore.length - 2 ? true : undefined), 30_000);
  });

  it('teardown leaves no container process, network namespace or bridge behind', async () => {
    const caller = await core.readNamespacedPod({ name: 'caller', namespace: NS });
    const callerPid = podPid(cluster.realNode!.containerdSocket, caller);
    expect(callerPid > 0 && processAlive(callerPid)).toBe(true);
    expect(podNetns().length).toBeGreaterThan(0);
    stopped = true;
    await cluster.stop();
    expect(processAlive(callerPid)).toBe(false);
    // One real node per machine (its lock): every cni- namespace was this cluster's.
    expect(podNetns()).toEqual([]);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(REAL_NODE_BRIDGE);
  });
});
