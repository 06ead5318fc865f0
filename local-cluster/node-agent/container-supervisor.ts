// Runs one container through its life: start, probes (startup, readiness, liveness), exit, restart per rule with backoff, stop
// with SIGTERM then SIGKILL. Its fields are what the pod status reports for the container.
import type { ChildProcess } from 'node:child_process';
import type { V1Container, V1LifecycleHandler, V1Probe } from '@kubernetes/client-node';
import { signalGroup } from './container-process.ts';
import { ProbeWorker, probeTiming } from './probe-worker.ts';
import { RestartBackoff } from './restart-backoff.ts';

export type ContainerRole = 'init' | 'sidecar' | 'main';
export type RestartRule = 'Always' | 'OnFailure' | 'Never';

export interface TerminatedState {
  readonly kind: 'terminated';
  readonly exitCode: number;
  readonly signal?: number | undefined;
  readonly reason: string;
  readonly message?: string | undefined;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly containerId: string;
}
export type ContainerState =
  | { readonly kind: 'waiting'; readonly reason: string; readonly message?: string | undefined }
  | { readonly kind: 'running'; readonly startedAt: string }
  | TerminatedState;

export interface ContainerHost {
  /** Starts the process (its own process group). Rejects with an Error whose message explains why it cannot start. */
  start(c: V1Container): Promise<ChildProcess>;
  probe(c: V1Container, p: V1Probe, timeoutMs: number): Promise<boolean>;
  /** Runs a postStart/preStop handler (exec, httpGet, tcpSocket, sleep); resolves false on failure or timeout. */
  hook(c: V1Container, h: V1LifecycleHandler, timeoutMs: number): Promise<boolean>;
  /** Grace for a kill the container did not ask for (liveness/startup failure). */
  readonly killGraceMs: number;
  /** A kubelet-style Event about this container (also the agent's log line); fire and forget. */
  readonly event?: (c: V1Container, type: 'Normal' | 'Warning', reason: string, message: string) => void;
}

export function nowIso(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

export class ContainerSupervisor {
  readonly name: string;
  readonly spec: V1Container;
  readonly role: ContainerRole;
  state: ContainerState = { kind: 'waiting', reason: 'ContainerCreating' };
  lastTerminated: TerminatedState | undefined;
  restartCount = 0;
  started = false;
  ready = false;
  /** The process runs and its postStart hook (if any) finished: the kubelet starts the next container only then. */
  launched = false;
  containerId = '';
  readonly #host: ContainerHost;
  readonly #onChange: () => void;
  readonly #backoff: RestartBackoff;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopping = false;
  #done = false;
  #loop: Promise<void> | undefined;
  #probes: ProbeWorker[] = [];
  #cancelWait: (() => void) | undefined;
  #hookFailure: string | undefined;
  #attempted = false;
  #waiters: (() => void)[] = [];

  constructor(spec: V1Container, role: ContainerRole, host: ContainerHost, onChange: () => void, backoff = new RestartBackoff()) {
    this.name = spec.name;
    this.spec = spec;
    this.role = role;
    this.#host = host;
    this.#onChange = onChange;
    this.#backoff = backoff;
  }

  /** True once the container will not run again (exited and not restarted, or stopped). */
  get done(): boolean {
    return this.#done;
  }

  get running(): boolean {
    return this.state.kind === 'running';
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  run(rule: RestartRule): void {
    if (!this.#loop) this.#loop = this.#runLoop(rule);
  }

  /** Resolves when the container has started (startup probe passed) or will never start. */
  async waitStarted(): Promise<void> {
    while (!this.started && !this.#done) await new Promise<void>((r) => this.#waiters.push(r));
  }

  /** Resolves once the first start attempt is over: launched (postStart done), failed to start, or exited. */
  async waitLaunched(): Promise<void> {
    while (!this.#attempted && !this.#done) await new Promise<void>((r) => this.#waiters.push(r));
  }

  async waitDone(): Promise<void> {
    while (!this.#done) await new Promise<void>((r) => this.#waiters.push(r));
  }

  /** SIGTERM to the process group, SIGKILL after graceMs; no restart afterwards. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#cancelWait?.();
    if (!this.#loop) { this.#markDone(); return; }
    const preStop = this.spec.lifecycle?.preStop;
    const child = this.#child;
    if (preStop && this.state.kind === 'running' && child) {
      // The preStop hook runs before SIGTERM and uses up part of the grace period, as in the kubelet.
      const t0 = Date.now();
      await Promise.race([this.#host.hook(this.spec, preStop, graceMs), this.#exited]);
      graceMs = Math.max(0, graceMs - (Date.now() - t0));
    }
    await this.#kill(graceMs);
    await this.#loop;
  }

  #changed(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const r of w) r();
    this.#onChange();
  }

  #markDone(): void {
    this.#done = true;
    this.#changed();
  }

  async #kill(graceMs: number): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(child.pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((r) => { timer = setTimeout(() => { signalGroup(child.pid, 'SIGKILL'); r(); }, Math.max(0, graceMs)); });
    await Promise.race([this.#exited, killed]);
    clearTimeout(timer);
    await this.#exited;
  }

  async #runLoop(rule: RestartRule): Promise<void> {
    while (!this.#stopping) {
      let child: ChildProcess;
      const startedAt = nowIso();
      const t0 = Date.now();
      try {
        child = await this.#host.start(this.spec);
      } catch (e) {
        this.state = { kind: 'waiting', reason: 'CreateContainerError', message: (e as Error).message };
        this.#host.event?.(this.spec, 'Warning', 'Failed', `Error: ${(e as Error).message}`);
        this.#attempted = true;
        this.#changed();
        if (!(await this.#sleep(this.#backoff.nextDelay(0)))) break;
        continue;
      }
      this.#child = child;
      this.#exited = new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.once('error', () => resolve());
      });
      const exit = new Promise<{ code: number; signal?: number; message?: string }>((resolve) => {
        child.once('exit', (code, sig) => resolve(sig ? { code: 128 + (SIGNALS[sig] ?? 0), signal: SIGNALS[sig] } : { code: code ?? 0 }));
        child.once('error', (e) => resolve({ code: 128, message: e.message }));
      });
      this.containerId = `skein://${child.pid ?? 0}`;
      this.state = { kind: 'running', startedAt };
      this.started = false;
      this.ready = false;
      this.launched = false;
      this.#changed();
      const postStart = this.spec.lifecycle?.postStart;
      if (postStart) {
        const hookOk = await Promise.race([this.#host.hook(this.spec, postStart, 24 * 3600_000), exit.then(() => true)]);
        if (!hookOk) {
          this.#hookFailure = 'FailedPostStartHook';
          void this.#kill(this.#host.killGraceMs);
        }
      }
      if (this.state.kind === 'running' && child.exitCode === null && child.signalCode === null && !this.#hookFailure) {
        this.#host.event?.(this.spec, 'Normal', 'Started', `Started container ${this.name}`);
        this.launched = true;
        this.#attempted = true;
        this.started = !this.spec.startupProbe;
        this.#startProbes();
        this.#changed();
      }
      const res = await exit;
      this.launched = false;
      this.#stopProbes();
      signalGroup(child.pid, 'SIGKILL'); // like a container runtime: when the main process exits, its leftovers go too
      const term: TerminatedState = {
        kind: 'terminated', exitCode: res.code, signal: res.signal, reason: this.#hookFailure ?? (res.code === 0 ? 'Completed' : 'Error'),
        message: res.message, startedAt, finishedAt: nowIso(), containerId: this.containerId,
      };
      this.#hookFailure = undefined;
      this.state = term;
      this.#attempted = true;
      this.started = false;
      this.ready = false;
      this.#changed();
      if (this.#stopping) break;
      const restart = rule === 'Always' || (rule === 'OnFailure' && res.code !== 0);
      if (!restart) break;
      this.lastTerminated = term;
      this.state = { kind: 'waiting', reason: 'CrashLoopBackOff', message: `back-off restarting failed container ${this.name}` };
      this.#changed();
      const delay = this.#backoff.nextDelay(Date.now() - t0);
      this.#host.event?.(this.spec, 'Warning', 'BackOff', `Back-off restarting failed container ${this.name} (exit ${res.code}, next start in ${delay} ms)`);
      if (!(await this.#sleep(delay))) break;
      this.restartCount++;
    }
    this.#markDone();
  }

  /** Resolves true after ms, false when cancelled by stop(). */
  #sleep(ms: number): Promise<boolean> {
    if (this.#stopping) return Promise.resolve(false);
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.#cancelWait = undefined; resolve(true); }, ms);
      this.#cancelWait = () => { clearTimeout(t); this.#cancelWait = undefined; resolve(false); };
    });
  }

  #startProbes(): void {
    const c = this.spec;
    const check = (p: V1Probe) => (timeoutMs: number) => this.#host.probe(c, p, timeoutMs);
    const afterStartup = (): void => {
      if (c.readinessProbe) {
        const w = new ProbeWorker('readiness', probeTiming(c.readinessProbe), check(c.readinessProbe), (s) => {
          this.ready = s === 'success';
          if (!this.ready) this.#host.event?.(this.spec, 'Warning', 'Unhealthy', 'Readiness probe failed');
          this.#changed();
        });
        this.#probes.push(w);
        w.start();
      } else {
        this.ready = true;
      }
      if (c.livenessProbe) {
        const w = new ProbeWorker('liveness', probeTiming(c.livenessProbe), check(c.livenessProbe), (s) => {
          if (s === 'failure') {
            this.#host.event?.(this.spec, 'Normal', 'Killing', `Container ${this.name} failed liveness probe, will be restarted`);
            void this.#kill(this.#graceFor(c.livenessProbe!));
          }
        });
        this.#probes.push(w);
        w.start();
      }
    };
    if (c.startupProbe) {
      const w = new ProbeWorker('startup', probeTiming(c.startupProbe), check(c.startupProbe), (s, exhausted) => {
        if (s === 'success') { this.started = true; afterStartup(); this.#changed(); } else if (exhausted) {
          this.#host.event?.(this.spec, 'Normal', 'Killing', `Container ${this.name} failed startup probe, will be restarted`);
          void this.#kill(this.#graceFor(c.startupProbe!));
        }
      });
      this.#probes.push(w);
      w.start();
    } else {
      afterStartup();
    }
  }

  #graceFor(p: V1Probe): number {
    return p.terminationGracePeriodSeconds !== undefined ? p.terminationGracePeriodSeconds * 1000 : this.#host.killGraceMs;
  }

  #stopProbes(): void {
    for (const p of this.#probes) p.stop();
    this.#probes = [];
  }
}
