// e2e: the local cluster on a real node (kubelet + containerd + kube-proxy): the node is Ready, pods from our images run with an
// init container (iptables in the pod's netns) and an exec probe, `kubectl logs`, `exec` (with stdin) and `port-forward` work,
// a ClusterIP Service answers from a pod and from the host, CoreDNS resolves Service names in pods, and teardown leaves the host exactly as it found it.
import * as k8s from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKEIN_IMAGE } from '../../api/mesh/mesh-constants.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { expectHostUnchanged, hostSnapshot, type HostSnapshot } from '../support/host-snapshot.ts';
import { kubectlIn, withPortForward } from './kubectl.ts';
import { waitFor } from './wait-for.ts';

const NS = 'e2e-real-node';

function ready(p: k8s.V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time: before kube-proxy programs a ClusterIP, the machine's default gateway may answer for it, and a
    // kept-alive socket to the gateway would then serve every retry.
    const req = request(url, { timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('local cluster on a real node (kubelet, containerd, kube-proxy)', () => {
  let cluster: LocalClusterDetails;
  let core: k8s.CoreV1Api;
  let before: HostSnapshot;
  let stopped = false;
  const lines: string[] = [];
  const t0 = Date.now();
  const timings: Record<string, number> = {};

  const kubectl = (args: string[], input?: string): Promise<string> => kubectlIn(cluster)(['-n', NS, ...args], input);

  beforeAll(async () => {
    before = hostSnapshot();
    cluster = await startLocalCluster({ node: 'kubelet', log: (l) => lines.push(l) });
    timings['cluster ready'] = Date.now() - t0;
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await waitFor('the default ServiceAccount', async () => core.readNamespacedServiceAccount({ name: 'default', namespace: NS }));
  });

  afterAll(async () => {
    if (!stopped) await cluster?.stop();
    if (process.env.SKEIN_E2E_LOG) process.stderr.write(`${lines.join('\n')}\n`);
    process.stderr.write(`real node timings (ms): ${JSON.stringify({ ...timings, ...cluster?.realNode?.timings })}\n`);
  });

  it('registers node skein-local Ready, with kubelet v1.36.3 on containerd', async () => {
    expect(cluster.nodeKind).toBe('kubelet');
    const node = await core.readNode({ name: 'skein-local' });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status?.nodeInfo?.kubeletVersion).toBe('v1.36.3');
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address).toBe(cluster.advertiseAddress);
    // Every image the project built is there, under the names pods use.
    const names = (node.status?.images ?? []).flatMap((i) => i.names ?? []);
    for (const n of [SKEIN_IMAGE, 'skein.dev/pause:1', 'skein.dev/example-echo:e2e', cluster.realNode!.corednsImage]) expect(names).toContain(n);
  });

  it('runs pods from our images: an init container with iptables in the pod netns, an exec probe, an HTTP probe', async () => {
    const tStart = Date.now();
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'echo', labels: { app: 'echo' } },
        spec: {
          containers: [
            {
              name: 'echo',
              image: 'skein.dev/example-echo:e2e',
              imagePullPolicy: 'Never',
              ports: [{ containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    });
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'toolbox' },
        spec: {
          initContainers: [
            {
              name: 'iptables',
              image: SKEIN_IMAGE,
              imagePullPolicy: 'Never',
              command: ['/bin/sh', '-c', 'iptables -t nat -N SKEIN_E2E && iptables -t nat -S SKEIN_E2E'],
              securityContext: { runAsUser: 0, capabilities: { add: ['NET_ADMIN'] } },
            },
          ],
          containers: [
            {
              name: 'toolbox',
              image: SKEIN_IMAGE,
              imagePullPolicy: 'Never',
              command: ['/usr/local/bin/node', '-e', 'console.log("toolbox up"); setInterval(() => {}, 1 << 30)'],
              readinessProbe: { exec: { command: ['/bin/sh', '-c', 'test -x /usr/local/bin/skein'] }, periodSeconds: 1 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
            },
          ],
        },
      },
    });
    await waitFor('echo and toolbox Ready', async () => {
      const pods = (await core.listNamespacedPod({ namespace: NS })).items;
      return pods.length === 2 && pods.every(ready) ? pods : undefined;
    }, 120_000);
    timings['two pods Ready'] = Date.now() - tStart;
    const init = await kubectl(['logs', 'toolbox', '-c', 'iptables']);
    expect(init).toContain('-N SKEIN_E2E');
  });

  it('kubectl logs, exec with stdin (as the image user 2102) and port-forward work through the API server', async () => {
    expect(await kubectl(['logs', 'echo'])).toContain('echo echo listening on :8080');
    expect(await kubectl(['exec', '-i', 'toolbox', '--', '/bin/sh', '-c', 'read line; echo "got: $line"'], 'hello from stdin\n')).toBe('got: hello from stdin\n');
    const uid = await kubectl(['exec', 'toolbox', '--', '/usr/local/bin/node', '-p', 'process.getuid()']);
    expect(uid.trim()).toBe('2102');

    const r = await withPortForward(cluster, NS, 'echo', 8080, (port) => httpGet(`http://127.0.0.1:${port}/through-port-forward`));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ pod: 'echo', url: '/through-port-forward' });
  });

  it('a ClusterIP Service answers from the host and from a pod (kube-proxy), and pods reach the kubernetes Service', async () => {
    const svc = await core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name: 'echo' }, spec: { selector: { app: 'echo' }, ports: [{ port: 80, targetPort: 8080 }] } },
    });
    const ip = svc.spec!.clusterIP!;
    expect(ip).toMatch(/^10\.96\./);
    const fromHost = await waitFor('the ClusterIP from the host', async () => {
      const r = await httpGet(`http://${ip}/from-host`).catch((e: Error) => {
        lines.push(`GET ${ip}: ${e.message}; ${execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(ip)).join(' | ')}`);
        throw e;
      });
      if (r.status !== 200) lines.push(`GET ${ip}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
      return r.status === 200 ? r : undefined;
    }, 60_000);
    expect(JSON.parse(fromHost.body)).toMatchObject({ pod: 'echo', url: '/from-host' });
    const fetchScript = (url: string): string =>
      `fetch(${JSON.stringify(url)}).then(async (r) => console.log(r.status, await r.text())).catch((e) => { console.log('ERR', e.cause?.code ?? e.message); process.exit(1); })`;
    const fromPod = await kubectl(['exec', 'toolbox', '--', '/usr/local/bin/node', '-e', fetchScript(`http://${ip}/from-pod`)]);
    expect(fromPod).toMatch(/^200 /);
    expect(JSON.parse(fromPod.slice(4))).toMatchObject({ pod: 'echo', url: '/from-pod' });
    const api = await kubectl(['exec', 'toolbox', '--', '/usr/bin/env', 'NODE_TLS_REJECT_UNAUTHORIZED=0', '/usr/local/bin/node', '--no-warnings', '-e', fetchScript('https://10.96.0.1/version')]);
    expect(api).toContain('"gitVersion": "v1.36.3"');
  });

  it('cluster DNS (CoreDNS behind kube-dns): a pod resolves Service names, short and fully qualified, and reaches them', async () => {
    const dns = await core.readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' });
    expect(dns.spec?.clusterIP).toBe('10.96.0.10');
    const resolv = await kubectl(['exec', 'toolbox', '--', '/usr/local/bin/node', '-e', "process.stdout.write(require('node:fs').readFileSync('/etc/resolv.conf', 'utf8'))"]);
    expect(resolv).toContain('nameserver 10.96.0.10');
    expect(resolv).toContain(`search ${NS}.svc.cluster.local svc.cluster.local cluster.local`);
    const svc = await core.readNamespacedService({ name: 'echo', namespace: NS });
    const lookup = (name: string): Promise<string> =>
      kubectl(['exec', 'toolbox', '--', '/usr/local/bin/node', '-e', `require('node:dns').promises.lookup(${JSON.stringify(name)}).then((a) => console.log(a.address), (e) => { console.log('ERR', e.code); process.exit(1); })`]);
    expect((await lookup(`echo.${NS}.svc.cluster.local`)).trim()).toBe(svc.spec!.clusterIP);
    expect((await lookup('echo')).trim()).toBe(svc.spec!.clusterIP);
    expect((await lookup('kubernetes.default')).trim()).toBe('10.96.0.1');
    const byName = await kubectl(['exec', 'toolbox', '--', '/usr/local/bin/node', '-e',
      `fetch('http://echo.${NS}.svc.cluster.local/by-name').then(async (r) => console.log(r.status, await r.text()), (e) => { console.log('ERR', e.cause?.code ?? e.message); process.exit(1); })`]);
    expect(byName).toMatch(/^200 /);
    expect(JSON.parse(byName.slice(4))).toMatchObject({ pod: 'echo', url: '/by-name' });
  });

  it('stop() leaves iptables, mounts, netns, links, processes, cgroups, sysctls and host folders as they were', async () => {
    const during = hostSnapshot();
    // The node really changed the host (else the comparison below proves nothing).
    expect(during.iptables.some((l) => l.includes('KUBE-'))).toBe(true);
    expect(during.netns.some((n) => n.startsWith('cni-'))).toBe(true);
    expect(during.processes.some((p) => / kubelet /.test(p))).toBe(true);
    expect(during.sysctls['kernel.panic']).toBe('10');
    const tStop = Date.now();
    await cluster.stop();
    stopped = true;
    timings.teardown = Date.now() - tStop;
    expectHostUnchanged(hostSnapshot(), before);
  });
});
