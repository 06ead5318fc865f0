// The app-exit watcher on a /proc-shaped directory: which processes count as the app, and when the app counts as gone.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lastAllocatedPid, listAppProcesses, watchAppExit, type AppProcess } from './app-exit-watcher.ts';

const PROXY_UID = 2102;
let proc: string;

function addProcess(pid: number, uid: number, name: string, state = 'S (sleeping)', extra = '', threads: number[] = []): void {
  mkdirSync(join(proc, String(pid), 'task', String(pid)), { recursive: true });
  for (const t of threads) mkdirSync(join(proc, String(pid), 'task', String(t)), { recursive: true });
  writeFileSync(join(proc, String(pid), 'status'), `Name:\t${name}\nState:\t${state}\nTgid:\t${pid}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n${extra}`);
}
const removeProcess = (pid: number): void => rmSync(join(proc, String(pid)), { recursive: true });
const setLastPid = (pid: number): void => writeFileSync(join(proc, 'loadavg'), `0.10 0.20 0.30 1/80 ${pid}\n`);

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

describe('watchAppExit with the postStart handoff', () => {
  it('reads the namespace PID counter', () => {
    setLastPid(4242);
    expect(lastAllocatedPid(proc)).toBe(4242);
    expect(lastAllocatedPid(join(proc, 'absent'))).toBeUndefined();
  });

  it('after the handoff, a PID handed out to anyone but the proxy means the app ran, even if no scan saw it', () => {
    const exits: (readonly AppProcess[])[] = [];
    addProcess(1, 65535, 'pause');
    addProcess(7, PROXY_UID, 'node', 'S (sleeping)', '', [8, 9]);
    setLastPid(20);
    const w = watchAppExit({ procRoot: proc, proxyUid: PROXY_UID, intervalMs: 3_600_000, confirmScans: 2, onAppExit: (last) => exits.push(last) });
    try {
      setLastPid(25); // before the handoff: the hook and init steps come and go; none of it is the app
      w.scan();
      expect(w.state).toBe('waiting');
      w.handoff();
      addProcess(7, PROXY_UID, 'node', 'S (sleeping)', '', [8, 9, 26]); // a new thread of the proxy's own
      setLastPid(26);
      w.scan();
      expect(w.state).toBe('waiting');
      setLastPid(28); // the app: pids 27 and 28, both over before this scan
      w.scan();
      expect(w.state).toBe('running');
      w.scan();
      expect(w.state).toBe('exited');
      expect(exits).toEqual([[{ pid: 27, uid: -1, name: '(ended before a scan saw it)' }]]);
    } finally {
      w.stop();
    }
  });

  it('without a handoff, PIDs handed out meanwhile do not count as the app', () => {
    addProcess(7, PROXY_UID, 'node');
    setLastPid(10);
    const w = watchAppExit({ procRoot: proc, proxyUid: PROXY_UID, intervalMs: 3_600_000, onAppExit: () => {} });
    try {
      setLastPid(50);
      for (let i = 0; i < 5; i++) w.scan();
      expect(w.state).toBe('waiting');
    } finally {
      w.stop();
    }
  });
});
