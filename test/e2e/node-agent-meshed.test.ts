// e2e: the node agent runs pods as `skein inject` rewrites them (skein-init's iptables script, the proxy as a native sidecar
// or as a regular container held by its postStart hook), they become Ready, and inbound traffic reaches the app through the proxy.
import * as k8s from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { podNetworkNames } from '../../local-cluster/node-agent/host-network.ts';
import { PINNED_NODE, REPO_ROOT } from '../../local-cluster/node-agent/image-table.ts';
import { waitFor } from './wait-for.ts';

const NS = 'e2e-meshed';

function injected(name: string, nativeSidecars: boolean): k8s.V1Pod {
  const pod = `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${NS}, labels: { app: ${name} } }
spec:
  containers:
  - name: echo
    image: skein.dev/example-echo:e2e
    ports: [{ containerPort: 8080 }]
    env: [{ name: POD_NAME, valueFrom: { fieldRef: { fieldPath: metadata.name } } }]
    readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
`;
  const out = execFileSync(PINNED_NODE, [join(REPO_ROOT, 'bin', 'skein.mjs'), 'inject', '-f', '-', '--native-sidecars', String(nativeSidecars)], { input: pod, encoding: 'utf8' });
  return parse(out) as k8s.V1Pod;
}

describe('injected pods on the node agent', () => {
  let cluster: LocalClusterDetails;
  let core: k8s.CoreV1Api;

  beforeAll(async () => {
    cluster = await startLocalCluster({ log: () => {} });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await waitFor('the default ServiceAccount', async () => core.readNamespacedServiceAccount({ name: 'default', namespace: NS }));
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  for (const native of [true, false]) {
    it(`runs a pod injected with ${native ? 'a native sidecar' : 'a regular sidecar container'} and serves through the proxy`, async () => {
      const name = native ? 'meshed-native' : 'meshed-regular';
      const body = injected(name, native);
      expect(JSON.stringify(body.spec)).toContain('skein-init');
      await core.createNamespacedPod({ namespace: NS, body });
      const pod = await waitFor(`${name} Ready`, async () => {
        const p = await core.readNamespacedPod({ name, namespace: NS });
        return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
      }, 120_000);
      const logDir = join(cluster.workDir, 'node-agent', 'pods', `${NS}_${name}_${pod.metadata!.uid}`);
      expect(readFileSync(join(logDir, 'skein-init.log'), 'utf8')).toContain('interception rules installed');
      // The rules live in the pod's network namespace, not on the host.
      const rules = execFileSync('ip', ['netns', 'exec', podNetworkNames(pod.metadata!.uid!).netns, 'iptables', '-w', '-t', 'nat', '-S'], { encoding: 'utf8' });
      expect(rules).toMatch(/-A PREROUTING -p tcp -j SKEIN_INBOUND/);
      expect(rules).toMatch(/--uid-owner 2102 -j RETURN/);
      const proxy = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((c) => c.name === 'skein-proxy');
      expect(proxy?.ready).toBe(true);
      const res = await fetch(`http://${pod.status!.podIP}:8080/via-proxy`);
      expect(res.status).toBe(200);
      const echoed = (await res.json()) as { pod: string; url: string; headers: Record<string, string> };
      expect(echoed).toMatchObject({ pod: name, url: '/via-proxy' });
      // Only the proxy adds a request id (docs/proxy-config.md): the request really went through it.
      expect(echoed.headers['x-request-id']).toMatch(/\S/);
    });
  }
});
