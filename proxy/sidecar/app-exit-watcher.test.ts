// The app-exit watcher on a /proc-shaped directory: which processes count as the app, and when the app counts as gone.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listAppProcesses, watchAppExit, type AppProcess } from './app-exit-watcher.ts';

const PROXY_UID = 2102;
let proc: string;

function addProcess(pid: number, uid: number, name: string, state = 'S (sleeping)', extra = ''): void {
  mkdirSync(join(proc, String(pid)), { recursive: true });
  writeFileSync(join(proc, String(pid), 'status'), `Name:\t${name}\nState:\t${state}\nTgid:\t${pid}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n${extra}`);
}
const removeProcess = (pid: number): void => rmSync(join(proc, String(pid)), { recursive: true });

beforeEach(() => {
  proc = mkdtempSync(join(tmpdir(), 'skein-proc-'));
  mkdirSync(join(proc, 'self'));
  writeFileSync(join(proc, 'uptime'), '1.0 1.0\n');
});
afterEach(() => rmSync(proc, { recursive: true, force: true }));

describe('listAppProcesses', () => {
  it('skips pid 1 (pause), the proxy UID, zombies, kernel threads and non-process entries', () => {
    addProcess(1, 65535, 'pause');
    addProcess(7, PROXY_UID, 'node');
    addProcess(9, PROXY_UID, 'skein-wait-ready');
    addProcess(12, 0, 'defunct', 'Z (zombie)');
    addProcess(13, 0, 'kworker/0:1', 'I (idle)', 'Kthread:\t1\n');
    addProcess(20, 1000, 'python3');
    addProcess(21, 0, 'sh', 'R (running)');
    expect(listAppProcesses(proc, PROXY_UID).map((p) => [p.pid, p.name]).sort()).toEqual([[20, 'python3'], [21, 'sh']]);
  });

  it('returns nothing for a missing directory', () => {
    expect(listAppProcesses(join(proc, 'absent'), PROXY_UID)).toEqual([]);
  });
});

describe('watchAppExit', () => {
  it('waits for the app to appear, then reports its exit once, after the confirming scans', () => {
    const exits: (readonly AppProcess[])[] = [];
    const starts: (readonly AppProcess[])[] = [];
    addProcess(1, 65535, 'pause');
    addProcess(7, PROXY_UID, 'node');
    const w = watchAppExit({ procRoot: proc, proxyUid: PROXY_UID, intervalMs: 3_600_000, confirmScans: 2, onAppStart: (apps) => starts.push(apps), onAppExit: (last) => exits.push(last) });
    try {
      // The app is held until the proxy is ready: no app process yet is not an exit.
      for (let i = 0; i < 5; i++) w.scan();
      expect(w.state).toBe('waiting');
      addProcess(30, 1000, 'job');
      w.scan();
      expect(w.state).toBe('running');
      expect(starts).toEqual([[{ pid: 30, uid: 1000, name: 'job' }]]);
      removeProcess(30);
      w.scan();
      expect(w.state).toBe('running'); // one empty scan is not enough: the app may be between a fork and an exec
      addProcess(31, 1000, 'job-step-2');
      w.scan();
      removeProcess(31);
      w.scan();
      expect(exits).toEqual([]);
      w.scan();
      expect(w.state).toBe('exited');
      expect(exits).toEqual([[{ pid: 31, uid: 1000, name: 'job-step-2' }]]);
      w.scan();
      expect(exits).toHaveLength(1);
      expect(starts).toHaveLength(1);
    } finally {
      w.stop();
    }
  });
});
