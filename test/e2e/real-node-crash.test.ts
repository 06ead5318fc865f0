// e2e: a real node's owner closed by SIGHUP (a closed terminal) tears it down; one killed by SIGKILL leaves the node's traces,
// and the next start of any local cluster puts the host back. Either way the host ends as it was before.
import * as k8s from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SKEIN_IMAGE } from '../../api/mesh/mesh-constants.ts';
import { startLocalCluster } from '../../local-cluster/cluster.ts';
import { expectHostUnchanged, hostSnapshot } from '../support/host-snapshot.ts';
import { waitFor } from './wait-for.ts';

const clusterModule = fileURLToPath(new URL('../../local-cluster/cluster.ts', import.meta.url));

/** Starts a cluster with a real node in a child process, runs a pod on it, and returns the child (its owner). */
async function ownerWithPod(): Promise<ChildProcess> {
  const script = [
    `import { startLocalCluster } from ${JSON.stringify(clusterModule)};`,
    "const c = await startLocalCluster({ node: 'kubelet', log: () => {} });",
    'process.stdout.write("KUBECONFIG " + c.kubeconfigPath + "\\n");',
    'setInterval(() => {}, 1 << 30);',
  ].join('\n');
  const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const kubeconfig = await new Promise<string>((resolve, reject) => {
    let out = '';
    owner.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^KUBECONFIG (\S+)$/m.exec(out);
      if (m) resolve(m[1]!);
    });
    owner.on('exit', (code) => reject(new Error(`cluster owner exited early (${code})`)));
  });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await waitFor('the default ServiceAccount', async () => core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }));
  await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name: 'sleeper' },
      spec: { containers: [{ name: 's', image: SKEIN_IMAGE, imagePullPolicy: 'Never', command: ['/usr/local/bin/node', '-e', 'setInterval(() => {}, 1 << 30)'] }] },
    },
  });
  await waitFor('the pod Running', async () => {
    const p = await core.readNamespacedPod({ name: 'sleeper', namespace: 'default' });
    return p.status?.phase === 'Running' ? p : undefined;
  }, 120_000);
  return owner;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('real node teardown on signals and after a crash', () => {
  const owners: ChildProcess[] = [];
  afterAll(async () => {
    for (const o of owners) o.kill('SIGKILL');
    // Whatever a failed assertion left, the next start cleans; leave the machine clean for the next file.
    const c = await startLocalCluster({ node: 'none', log: () => {} });
    await c.stop();
  });

  it('SIGHUP (the terminal closed) stops every process and puts the host back', async () => {
    const before = hostSnapshot();
    const owner = await ownerWithPod();
    owners.push(owner);
    expect(hostSnapshot().processes.some((p) => / kubelet /.test(p))).toBe(true);
    owner.kill('SIGHUP');
    // The teardown handler stops the cluster, then re-raises the signal: the owner dies of SIGHUP, not of an error.
    expect(await exited(owner)).toEqual({ code: null, signal: 'SIGHUP' });
    expectHostUnchanged(hostSnapshot(), before);
  });

  it('after SIGKILL the next start of a cluster removes what the dead node left', async () => {
    const before = hostSnapshot();
    const owner = await ownerWithPod();
    owners.push(owner);
    owner.kill('SIGKILL');
    await exited(owner);
    const crashed = hostSnapshot();
    // The crash left the node's traces (else the check below proves nothing).
    expect(crashed.iptables.some((l) => l.includes('KUBE-'))).toBe(true);
    expect(crashed.netns.some((n) => n.startsWith('cni-'))).toBe(true);
    expect(crashed.sysctls['kernel.panic']).toBe('10');
    const lines: string[] = [];
    const next = await startLocalCluster({ node: 'none', log: (l) => lines.push(l) });
    await next.stop();
    expect(lines.some((l) => /cleaning up the node of process \d+, which is gone/.test(l))).toBe(true);
    expectHostUnchanged(hostSnapshot(), before);
  });
});
