// Records which processes a running local cluster owns, so the next start can kill what a crashed run left behind.
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skeinCacheDir } from './binaries.ts';
import { randomBytes } from 'node:crypto';
import { procStartTicks, type ManagedProcess } from './managed-process.ts';

export interface ClusterState {
  readonly ownerPid: number;
  readonly ownerStartTicks: string;
  readonly workDir: string;
  readonly removeWorkDir: boolean;
  readonly processes: readonly { name: string; pid: number; exe: string; startTicks: string }[];
}

/** /run/skein-local-cluster when we may write there (root), else a run/ folder in the cache. */
export function clusterStateDir(): string {
  const candidates = ['/run/skein-local-cluster', join(skeinCacheDir(), 'run')];
  for (const dir of candidates) {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {}
  }
  throw new Error('no writable directory for the local cluster state');
}

export function writeClusterState(path: string, state: ClusterState): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(state, null, 2));
  // rename is atomic: a crash never leaves a half-written state file for the next run to misread.
  renameSync(`${path}.tmp`, path);
}

function alive(pid: number, startTicks: string): boolean {
  return startTicks !== '' && procStartTicks(pid) === startTicks;
}

/**
 * Kills the processes of every recorded cluster whose owner is gone (crashed, SIGKILLed) and removes its state.
 * Clusters whose owner still runs (another test file, a `skein cluster up` in another terminal) are left alone.
 */
export function cleanupStaleClusters(stateDir: string, log: (line: string) => void): number {
  let cleaned = 0;
  let entries: string[];
  try {
    entries = readdirSync(stateDir).filter((f) => f.endsWith('.json'));
  } catch {
    return 0;
  }
  for (const file of entries) {
    const path = join(stateDir, file);
    let state: ClusterState;
    try {
      state = JSON.parse(readFileSync(path, 'utf8')) as ClusterState;
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    if (alive(state.ownerPid, state.ownerStartTicks)) continue;
    for (const p of state.processes) {
      if (!alive(p.pid, p.startTicks)) continue;
      log(`local cluster: killing stale ${p.name} (pid ${p.pid}) left by a previous run`);
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {}
      }
      cleaned++;
    }
    if (state.removeWorkDir) {
      try {
        rmSync(state.workDir, { recursive: true, force: true });
      } catch (e) {
        // Something still mounted inside (a real node's folder): leave the folder rather than fail this start.
        log(`local cluster: could not remove ${state.workDir}: ${(e as Error).message}`);
      }
    }
    rmSync(path, { force: true });
  }
  return cleaned;
}

/** Records processes (an addon's) in their own state file; returns the function that forgets them after an orderly stop. */
export function recordOwnedProcesses(label: string, workDir: string, procs: readonly ManagedProcess[]): () => void {
  const path = join(clusterStateDir(), `${process.pid}-${label}-${randomBytes(4).toString('hex')}.json`);
  writeClusterState(path, {
    ownerPid: process.pid,
    ownerStartTicks: procStartTicks(process.pid) ?? '',
    workDir,
    removeWorkDir: false,
    processes: procs.map((p) => ({ name: p.name, pid: p.pid, exe: p.exe, startTicks: p.startTicks })),
  });
  return () => rmSync(path, { force: true });
}
