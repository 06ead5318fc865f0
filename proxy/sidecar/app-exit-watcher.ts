// Watches a run-to-completion pod's shared process namespace and reports when the app's processes are all gone, so a
// regular-container sidecar can end and the Job's pod can complete (SKEIN_EXIT_ON_APP_EXIT; docs/injection.md).
//
// An app that starts and ends between two scans is never seen. The namespace's PID counter tells it apart from an app
// that has not started yet: the proxy's postStart hook (`skein wait-ready`) reports the handoff just before it ends, and
// the kubelet starts the app only after that; from then on, every PID the namespace hands out that is not one of the
// proxy's own tasks belongs to the app.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AppExitWatcherOptions {
  /** Where the pod's processes are listed (a shared process namespace's /proc). */
  readonly procRoot?: string;
  /** Processes of this real UID are the proxy's own (the proxy container and its postStart hook run as it). */
  readonly proxyUid: number;
  readonly intervalMs?: number;
  /** Consecutive scans without an app process before the app counts as gone (a process may exec or fork between scans). */
  readonly confirmScans?: number;
  /** Called once, when an app process is first seen. */
  readonly onAppStart?: (processes: readonly AppProcess[]) => void;
  /** Called once, when the app has been seen and then is gone. */
  readonly onAppExit: (lastSeen: readonly AppProcess[]) => void;
}

export interface AppProcess {
  readonly pid: number;
  readonly uid: number;
  readonly name: string;
}

/**
 * The pod's processes that are not the proxy's: every process of the namespace except pid 1 (the sandbox's pause process
 * in a shared process namespace), processes running as the proxy's UID, and zombies (already exited, not yet reaped).
 */
export function listAppProcesses(procRoot: string, proxyUid: number): AppProcess[] {
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return [];
  }
  const found: AppProcess[] = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    let status: string;
    try {
      status = readFileSync(join(procRoot, entry, 'status'), 'latin1');
    } catch {
      continue; // exited between readdir and read
    }
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
    const state = /^State:\s+(\S)/m.exec(status)?.[1];
    // Kernel threads (visible only outside a pod's own PID namespace) have no user-space parent to wait for.
    if (!Number.isInteger(uid) || uid === proxyUid || state === 'Z' || state === 'X' || /^Kthread:\s+1/m.test(status)) continue;
    found.push({ pid, uid, name: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?' });
  }
  return found;
}

/** The last PID handed out in the reader's PID namespace (the fifth field of /proc/loadavg), or undefined. */
export function lastAllocatedPid(procRoot: string): number | undefined {
  try {
    const n = Number(readFileSync(join(procRoot, 'loadavg'), 'latin1').trim().split(/\s+/)[4]);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** PIDs and thread ids of every process running as `uid`. */
function tasksOf(procRoot: string, uid: number): number[] {
  const ids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return ids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(join(procRoot, entry, 'status'), 'latin1');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) !== uid) continue;
      ids.push(Number(entry));
      for (const t of readdirSync(join(procRoot, entry, 'task'))) if (/^\d+$/.test(t)) ids.push(Number(t));
    } catch { /* exited meanwhile */ }
  }
  return ids;
}

export interface AppExitWatcher {
  /** 'waiting' until an app process has been seen (the app starts after the proxy is ready), then 'running', then 'exited'. */
  readonly state: 'waiting' | 'running' | 'exited';
  /** The postStart hook is done: the kubelet starts the app next, so PIDs handed out from now on are the app's. */
  handoff(): void;
  /** One scan now (the timer calls it; tests may too). */
  scan(): void;
  stop(): void;
}

export function watchAppExit(options: AppExitWatcherOptions): AppExitWatcher {
  const procRoot = options.procRoot ?? '/proc';
  const confirmScans = Math.max(1, options.confirmScans ?? 2);
  let state: AppExitWatcher['state'] = 'waiting';
  let lastSeen: AppProcess[] = [];
  let emptyScans = 0;
  // PID counter at the handoff to the app, and every task id of the proxy's UID seen after it.
  let handoffPid: number | undefined;
  const ownTasks = new Set<number>();
  /** After the handoff: a PID was handed out to someone other than the proxy, i.e. the app started (and maybe ended). */
  const foreignPidSince = (): number | undefined => {
    const last = lastAllocatedPid(procRoot);
    for (const t of tasksOf(procRoot, options.proxyUid)) ownTasks.add(t);
    if (last === undefined || handoffPid === undefined) return undefined;
    if (last < handoffPid) return last; // the counter wrapped: many PIDs were handed out
    for (let p = handoffPid + 1; p <= last; p++) if (!ownTasks.has(p)) return p;
    return undefined;
  };
  const scan = (): void => {
    if (state === 'exited') return;
    const apps = listAppProcesses(procRoot, options.proxyUid);
    if (apps.length > 0) {
      if (state === 'waiting') options.onAppStart?.(apps);
      state = 'running';
      lastSeen = apps;
      emptyScans = 0;
      return;
    }
    if (state === 'waiting') {
      const foreign = foreignPidSince();
      if (foreign === undefined) return;
      lastSeen = [{ pid: foreign, uid: -1, name: '(ended before a scan saw it)' }];
      options.onAppStart?.(lastSeen);
      state = 'running';
    }
    emptyScans += 1;
    if (emptyScans < confirmScans) return;
    state = 'exited';
    clearInterval(timer);
    options.onAppExit(lastSeen);
  };
  const timer = setInterval(scan, options.intervalMs ?? 1000);
  timer.unref();
  return {
    get state() {
      return state;
    },
    handoff: () => {
      if (state !== 'waiting' || handoffPid !== undefined) return;
      for (const t of tasksOf(procRoot, options.proxyUid)) ownTasks.add(t);
      handoffPid = lastAllocatedPid(procRoot);
    },
    scan,
    stop: () => clearInterval(timer),
  };
}
