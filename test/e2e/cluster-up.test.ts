// e2e: `skein cluster up` prints the kubeconfig, serves until a signal, then stops every component (Ctrl-C and SIGTERM).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { processAlive, waitFor } from './wait-for.ts';

const skein = fileURLToPath(new URL('../../bin/skein.mjs', import.meta.url));

async function upThenSignal(signal: 'SIGINT' | 'SIGTERM', workDir: string): Promise<void> {
  const child = spawn(process.execPath, [skein, 'cluster', 'up', '--no-node-agent', '--work-dir', workDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, sig) => r({ code, signal: sig })));
  try {
    await waitFor('the cluster to be up', async () => (stdout.includes('Press Ctrl-C') ? true : undefined), 180_000);
    const kubeconfig = join(workDir, 'admin.kubeconfig');
    expect(stdout).toContain(`export KUBECONFIG=${kubeconfig}`);
    expect(existsSync(kubeconfig)).toBe(true);
    const pids = [...stderr.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(4);
    expect(pids.every(processAlive)).toBe(true);

    child.kill(signal);
    const end = await exited;
    // The handler stops the cluster, then re-raises the signal: the process dies of it, as an interrupted program should.
    expect(end.signal ?? end.code).toBe(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    expect(stderr).toContain('local cluster: stopped');
    expect(pids.filter(processAlive)).toEqual([]);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

describe('skein cluster up', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('stops every component on Ctrl-C (SIGINT)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'skein-up-'));
    dirs.push(d);
    await upThenSignal('SIGINT', d);
  });

  it('stops every component on SIGTERM', async () => {
    const d = mkdtempSync(join(tmpdir(), 'skein-up-'));
    dirs.push(d);
    await upThenSignal('SIGTERM', d);
  });
});
