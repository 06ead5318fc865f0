// e2e: a cluster whose owner process was SIGKILLed leaves orphans; the next start finds and kills them.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupStaleClusters, clusterStateDir } from '../../local-cluster/state-file.ts';
import { processAlive, waitFor } from './wait-for.ts';

const clusterModule = fileURLToPath(new URL('../../local-cluster/cluster.ts', import.meta.url));

describe('local cluster crash recovery', () => {
  const orphans: number[] = [];

  afterAll(() => {
    // Belt and braces: never leave this test's orphans behind even if an assertion failed.
    for (const pid of orphans) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
    }
  });

  it('kills the components of a crashed run at the next start and removes its state file', async () => {
    const script = [
      `import { startLocalCluster } from ${JSON.stringify(clusterModule)};`,
      'const c = await startLocalCluster({ withNodeAgent: false, log: () => {} });',
      'process.stdout.write(JSON.stringify(c.processes) + "\\n");',
      'setInterval(() => {}, 1 << 30);',
    ].join('\n');
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const procs = await new Promise<{ name: string; pid: number }[]>((resolve, reject) => {
      let out = '';
      owner.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.startsWith('['));
        if (line) resolve(JSON.parse(line) as { name: string; pid: number }[]);
      });
      owner.on('exit', (code) => reject(new Error(`cluster owner exited early (${code})`)));
    });
    orphans.push(...procs.map((p) => p.pid));
    expect(procs).toHaveLength(4);

    // The crash: no exit handler runs, so the four components outlive their owner.
    owner.kill('SIGKILL');
    await new Promise((r) => owner.once('exit', r));
    expect(procs.map((p) => p.pid).filter(processAlive)).toHaveLength(4);

    const cleaned = cleanupStaleClusters(clusterStateDir(), () => {});
    expect(cleaned).toBeGreaterThanOrEqual(4);
    await waitFor('the orphans to die', async () => (procs.map((p) => p.pid).some(processAlive) ? undefined : true), 15_000);
    // Nothing left for a second pass: the crashed run's state file is gone.
    expect(cleanupStaleClusters(clusterStateDir(), () => {})).toBe(0);
  });
});
