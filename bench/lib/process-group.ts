// Starts the benchmark's child processes and guarantees they are all killed at the end, on success, failure or Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Last 8 KiB of stderr+stdout, for error messages. */
  output(): string;
}

export class ProcessGroup {
  #children = new Set<ChildProcess>();
  #onExit = (): void => this.killAll();
  #onSignal = (): void => { this.killAll(); process.exit(130); };

  constructor() {
    process.on('exit', this.#onExit);
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
  }

  start(name: string, cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Started {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    const keep = (b: Buffer): void => { out = (out + b.toString()).slice(-8192); };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (e) => { out += `\n[spawn error] ${e.message}`; });
    this.#children.add(child);
    child.on('exit', () => this.#children.delete(child));
    if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
    return { name, child, pid: child.pid, output: () => out };
  }

  async stop(p: Started): Promise<void> {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
    p.child.kill('SIGTERM');
    const t = setTimeout(() => p.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }

  killAll(): void {
    for (const c of this.#children) {
      try { c.kill('SIGKILL'); } catch {}
    }
    this.#children.clear();
  }

  dispose(): void {
    this.killAll();
    process.off('exit', this.#onExit);
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
  }
}

/** Polls until something accepts TCP connections on 127.0.0.1:port, or throws after the deadline. */
export async function waitForPort(port: number, timeoutMs: number, proc?: Started): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (proc && proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}): ${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`port ${port} not ready after ${timeoutMs} ms${proc ? `: ${proc.output()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
