// e2e: `skein demo --smoke` as a user runs it: every part that exists passes, unbuilt parts say so, and nothing is left running.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { processAlive } from './wait-for.ts';

const skein = fileURLToPath(new URL('../../bin/skein.mjs', import.meta.url));

describe('skein demo --smoke', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'skein-demo-'));
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('passes every part that exists, reports the rest as not built yet, and cleans up', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [skein, 'demo', '--smoke', '--work-dir', workDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(stdout, stderr).toContain('skein demo --smoke summary:');
    for (const part of ['local cluster', 'node agent', 'prometheus', 'jaeger']) expect(stdout).toMatch(new RegExp(`${part}\\s+PASS`));
    expect(stdout).not.toMatch(/\bFAIL\b/);
    expect(stdout).toMatch(/trace in Jaeger\s+(PASS|NOT BUILT YET)/);
    expect(code).toBe(0);

    // Every process the demo started (they log "pid N") is gone, and so are the pod network's namespaces and links.
    const pids = [...stderr.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids.length).toBeGreaterThanOrEqual(4);
    expect(pids.filter(processAlive)).toEqual([]);
    expect(readdirSync('/run/skein-local-cluster').filter((f) => !f.startsWith(`${process.pid}-`))).toEqual([]);
    const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('skein-'));
    expect(netns).toEqual([]);
  });
});
