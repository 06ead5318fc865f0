// Unit tests for the container supervisor with a fake process host: restart rules, backoff, hooks, start failures.
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { V1Container } from '@kubernetes/client-node';
import { ContainerSupervisor, type ContainerHost } from './container-supervisor.ts';
import { RestartBackoff } from './restart-backoff.ts';

class FakeChild extends EventEmitter {
  pid = undefined;
  exitCode: number | null = null;
  signalCode: string | null = null;
  exit(code: number): void { this.exitCode = code; this.emit('exit', code, null); }
}

function fakeHost(opts: { exitCodes?: number[]; failStarts?: number; hook?: (name: string, child: FakeChild | undefined) => Promise<boolean> } = {}) {
  const children: FakeChild[] = [];
  const events: string[] = [];
  let failStarts = opts.failStarts ?? 0;
  const host: ContainerHost = {
    killGraceMs: 50,
    async start(c) {
      if (failStarts-- > 0) throw new Error('image not in table');
      const ch = new FakeChild();
      children.push(ch);
      events.push(`start ${c.name}`);
      const code = opts.exitCodes?.shift();
      if (code !== undefined) setImmediate(() => ch.exit(code));
      return ch as unknown as ChildProcess;
    },
    async probe() { return true; },
    async hook(c, h) {
      const kind = c.lifecycle?.postStart === h ? 'postStart' : 'preStop';
      events.push(`${kind} ${c.name}`);
      return opts.hook ? opts.hook(kind, children.at(-1)) : true;
    },
  };
  return { host, children, events };
}

const quick = () => new RestartBackoff({ initialMs: 1, maxMs: 5, resetAfterMs: 60_000 });

describe('container supervisor', () => {
  it('OnFailure restarts until exit 0, counting restarts and keeping the last termination', async () => {
    const { host } = fakeHost({ exitCodes: [2, 1, 0] });
    const c = new ContainerSupervisor({ name: 'a' }, 'main', host, () => {}, quick());
    c.run('OnFailure');
    await c.waitDone();
    expect(c.restartCount).toBe(2);
    expect(c.state).toMatchObject({ kind: 'terminated', exitCode: 0, reason: 'Completed' });
    expect(c.lastTerminated).toMatchObject({ exitCode: 1, reason: 'Error' });
  });

  it('Never does not restart; Always restarts even after exit 0', async () => {
    const never = new ContainerSupervisor({ name: 'n' }, 'main', fakeHost({ exitCodes: [3] }).host, () => {}, quick());
    never.run('Never');
    await never.waitDone();
    expect(never.restartCount).toBe(0);
    expect(never.state).toMatchObject({ exitCode: 3 });

    const f = fakeHost({ exitCodes: [0, 0] });
    const always = new ContainerSupervisor({ name: 'x' }, 'sidecar', f.host, () => {}, quick());
    always.run('Always');
    while (f.children.length < 3) await new Promise((r) => setTimeout(r, 2));
    expect(always.restartCount).toBe(2);
    expect(always.running).toBe(true);
    f.children.at(-1)!.exitCode = null;
    const stopping = always.stop(10);
    f.children.at(-1)!.exit(143);
    await stopping;
    expect(always.done).toBe(true);
    expect(always.restartCount).toBe(2);
  });

  it('reports a start failure as waiting CreateContainerError and retries', async () => {
    const { host } = fakeHost({ failStarts: 2, exitCodes: [0] });
    const c = new ContainerSupervisor({ name: 'img' }, 'main', host, () => {}, quick());
    const seen: string[] = [];
    c.run('OnFailure');
    await c.waitLaunched();
    seen.push(c.state.kind === 'waiting' ? c.state.reason : c.state.kind);
    await c.waitDone();
    expect(seen).toEqual(['CreateContainerError']);
    expect(c.state).toMatchObject({ kind: 'terminated', exitCode: 0 });
  });

  it('is launched only after postStart, and runs preStop before SIGTERM on stop', async () => {
    let releasePostStart!: (ok: boolean) => void;
    const f = fakeHost({
      hook: (kind, child) => kind === 'postStart'
        ? new Promise<boolean>((r) => { releasePostStart = r; })
        : (setImmediate(() => child!.exit(0)), Promise.resolve(true)),
    });
    const c = new ContainerSupervisor({ name: 'p', lifecycle: { postStart: { exec: { command: ['x'] } }, preStop: { exec: { command: ['y'] } } } } as V1Container, 'main', f.host, () => {}, quick());
    c.run('Always');
    let launched = false;
    const w = c.waitLaunched().then(() => { launched = true; });
    await new Promise((r) => setTimeout(r, 5));
    expect(c.running).toBe(true);
    expect(launched).toBe(false);
    expect(c.started).toBe(false);
    releasePostStart(true);
    await w;
    expect(c.started).toBe(true);
    expect(c.ready).toBe(true);
    await c.stop(1000);
    expect(f.events).toEqual(['start p', 'postStart p', 'preStop p']);
    expect(c.state).toMatchObject({ kind: 'terminated', exitCode: 0 });
  });

  it('kills a container whose postStart hook fails and reports FailedPostStartHook', async () => {
    const f = fakeHost({ hook: async (_k, child) => { setTimeout(() => child!.exit(137), 1); return false; } });
    const c = new ContainerSupervisor({ name: 'h', lifecycle: { postStart: { exec: { command: ['x'] } } } } as V1Container, 'main', f.host, () => {}, quick());
    c.run('Never');
    await c.waitDone();
    expect(c.launched).toBe(false);
    expect(c.state).toMatchObject({ kind: 'terminated', reason: 'FailedPostStartHook' });
  });
});
