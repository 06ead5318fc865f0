// A cluster component run as a child process: its own process group, output to a log file, graceful stop then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly exe: string;
  readonly logPath: string;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22): tells it apart from a later reuse of its pid. */
  readonly startTicks: string;
  /** Set once the process has exited. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;
  stop(graceMs?: number): Promise<void>;
  /** Synchronous SIGKILL of the whole process group, for process 'exit' handlers. */
  killNow(): void;
}

export function procStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses; fields after the last ')' are stable.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

export function startManagedProcess(opts: {
  name: string;
  exe: string;
  args: readonly string[];
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}): ManagedProcess {
  const fd = openSync(opts.logPath, 'a');
  let child: ChildProcess;
  try {
    // detached: a process group of its own, so a terminal's Ctrl-C reaches only us and we stop components in order.
    child = spawn(opts.exe, [...opts.args], {
      stdio: ['ignore', fd, fd],
      detached: true,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) {
    throw new Error(`could not start ${opts.name} (${opts.exe})`);
  }
  const pid = child.pid;
  let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      status = { code, signal };
      resolve();
    });
    child.on('error', () => {
      status ??= { code: null, signal: null };
      resolve();
    });
  });
  return {
    name: opts.name,
    pid,
    exe: opts.exe,
    logPath: opts.logPath,
    startTicks: procStartTicks(pid) ?? '',
    exitStatus: () => status,
    exited,
    async stop(graceMs = 10_000) {
      if (status) return;
      signalGroup(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        signalGroup(pid, 'SIGKILL');
        await exited;
      }
    },
    killNow() {
      if (!status) signalGroup(pid, 'SIGKILL');
    },
  };
}
