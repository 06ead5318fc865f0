// Unit tests of stale-cluster cleanup: orphans of a dead owner die, a live owner's processes and reused pids are left alone.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { procStartTicks } from './managed-process.ts';
import { cleanupStaleClusters, writeClusterState } from './state-file.ts';

function sleeper(): { pid: number; exited: Promise<void> } {
  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  return { pid: child.pid!, exited: new Promise((r) => child.on('exit', () => r())) };
}

describe('cleanupStaleClusters', () => {
  const dirs: string[] = [];
  const pids: number[] = [];
  afterEach(() => {
    for (const p of pids.splice(0)) {
      try {
        process.kill(-p, 'SIGKILL');
      } catch {}
    }
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('kills the processes of a cluster whose owner is gone and removes its state and temp work dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-state-'));
    const work = mkdtempSync(join(tmpdir(), 'skein-work-'));
    dirs.push(dir, work);
    const s = sleeper();
    pids.push(s.pid);
    // The owner: a pid that cannot be our live process (start ticks that never match).
    writeClusterState(join(dir, 'dead.json'), {
      ownerPid: process.pid,
      ownerStartTicks: 'not-a-match',
      workDir: work,
      removeWorkDir: true,
      processes: [{ name: 'sleep', pid: s.pid, exe: 'sleep', startTicks: procStartTicks(s.pid)! }],
    });
    expect(cleanupStaleClusters(dir, () => {})).toBe(1);
    await s.exited;
    expect(existsSync(join(dir, 'dead.json'))).toBe(false);
    expect(existsSync(work)).toBe(false);
  });

  it('leaves a live owner alone and never kills a pid whose start time changed (reused pid)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-state-'));
    dirs.push(dir);
    const live = sleeper();
    const reused = sleeper();
    pids.push(live.pid, reused.pid);
    writeClusterState(join(dir, 'live.json'), {
      ownerPid: process.pid,
      ownerStartTicks: procStartTicks(process.pid)!,
      workDir: '/nonexistent',
      removeWorkDir: false,
      processes: [{ name: 'sleep', pid: live.pid, exe: 'sleep', startTicks: procStartTicks(live.pid)! }],
    });
    writeClusterState(join(dir, 'dead.json'), {
      ownerPid: process.pid,
      ownerStartTicks: 'gone',
      workDir: '/nonexistent',
      removeWorkDir: false,
      processes: [{ name: 'sleep', pid: reused.pid, exe: 'sleep', startTicks: '1' }],
    });
    expect(cleanupStaleClusters(dir, () => {})).toBe(0);
    expect(existsSync(join(dir, 'live.json'))).toBe(true);
    expect(existsSync(join(dir, 'dead.json'))).toBe(false);
    expect(procStartTicks(live.pid)).toBeDefined();
    expect(procStartTicks(reused.pid)).toBeDefined();
  });
});
