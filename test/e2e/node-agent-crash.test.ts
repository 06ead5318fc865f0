// e2e: a cluster owner SIGKILLed while the node agent runs pods leaves pod processes, network namespaces, veths and the
// bridge behind; the next cluster start removes exactly those, and its own stop leaves nothing.
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { processAlive, waitFor } from './wait-for.ts';

const clusterModule = fileURLToPath(new URL('../../local-cluster/cluster.ts', import.meta.url));

function skeinNetns(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('skein-'));
}
function linkExists(name: string): boolean {
  try { execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' }); return true; } catch { return false; }
}

describe('node agent crash recovery', () => {
  let next: LocalClusterDetails | undefined;
  const orphans: number[] = [];

  afterAll(async () => {
    await next?.stop();
    for (const pid of orphans) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  });

  it('cleans up the pods of a crashed run at the next start', async () => {
    const script = [
      `import * as k8s from '@kubernetes/client-node';`,
      `import { startLocalCluster } from ${JSON.stringify(clusterModule)};`,
      'const c = await startLocalCluster({ log: () => {} });',
      'const kc = new k8s.KubeConfig(); kc.loadFromFile(c.kubeconfigPath);',
      'const core = kc.makeApiClient(k8s.CoreV1Api);',
      "await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'sleeper' }, spec: { containers: [{ name: 's', image: 'busybox', command: ['sleep', '3600'] }] } } });",
      'for (;;) {',
      "  const p = await core.readNamespacedPod({ name: 'sleeper', namespace: 'default' });",
      "  const id = p.status?.containerStatuses?.[0]?.containerID;",
      "  if (p.status?.phase === 'Running' && id) { process.stdout.write(JSON.stringify({ pid: Number(id.split('//')[1]), procs: c.processes.map((x) => x.pid) }) + '\\n'); break; }",
      '  await new Promise((r) => setTimeout(r, 200));',
      '}',
      'setInterval(() => {}, 1 << 30);',
    ].join('\n');
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    const info = await new Promise<{ pid: number; procs: number[] }>((resolve, reject) => {
      let out = '';
      owner.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line) as { pid: number; procs: number[] });
      });
      owner.on('exit', (code) => reject(new Error(`cluster owner exited early (${code})`)));
    });
    orphans.push(info.pid, ...info.procs);

    owner.kill('SIGKILL');
    await new Promise((r) => owner.once('exit', r));
    // The crash left the pod running in its namespace, and the bridge up.
    expect(processAlive(info.pid)).toBe(true);
    const leftNetns = skeinNetns();
    expect(leftNetns.length).toBeGreaterThan(0);
    expect(linkExists('skein-br0')).toBe(true);

    next = await startLocalCluster({ log: () => {} });
    await waitFor('the crashed run\'s pod process to die', async () => (processAlive(info.pid) ? undefined : true), 15_000);
    expect(skeinNetns().filter((n) => leftNetns.includes(n))).toEqual([]);

    await next.stop();
    next = undefined;
    expect(skeinNetns()).toEqual([]);
    expect(linkExists('skein-br0')).toBe(false);
  });
});
