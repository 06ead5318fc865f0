// Runs one container probe on its schedule and turns raw outcomes into a state using the probe's thresholds.
import type { V1Probe } from '@kubernetes/client-node';

export type ProbeKind = 'readiness' | 'liveness' | 'startup';
export type ProbeState = 'success' | 'failure';

export interface ProbeTiming {
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

export function probeTiming(p: V1Probe): ProbeTiming {
  return {
    initialDelayMs: (p.initialDelaySeconds ?? 0) * 1000,
    periodMs: Math.max(1, p.periodSeconds ?? 10) * 1000,
    timeoutMs: Math.max(1, p.timeoutSeconds ?? 1) * 1000,
    successThreshold: Math.max(1, p.successThreshold ?? 1),
    failureThreshold: Math.max(1, p.failureThreshold ?? 3),
  };
}

/** Pure threshold logic: readiness and startup start as failure, liveness as success (kubelet semantics). */
export class ProbeStateMachine {
  readonly #t: ProbeTiming;
  #state: ProbeState;
  #successes = 0;
  #failures = 0;

  constructor(kind: ProbeKind, timing: ProbeTiming) {
    this.#t = timing;
    this.#state = kind === 'liveness' ? 'success' : 'failure';
  }

  get state(): ProbeState {
    return this.#state;
  }

  /** Records one outcome; returns true when the state changed. */
  record(passed: boolean): boolean {
    if (passed) {
      this.#failures = 0;
      this.#successes++;
      if (this.#state === 'failure' && this.#successes >= this.#t.successThreshold) { this.#state = 'success'; return true; }
    } else {
      this.#successes = 0;
      this.#failures++;
      if (this.#state === 'success' && this.#failures >= this.#t.failureThreshold) { this.#state = 'failure'; return true; }
    }
    return false;
  }

  /** Startup probes give up after failureThreshold failures without ever succeeding. */
  get exhausted(): boolean {
    return this.#state === 'failure' && this.#failures >= this.#t.failureThreshold;
  }
}

export class ProbeWorker {
  readonly kind: ProbeKind;
  readonly #timing: ProbeTiming;
  readonly #machine: ProbeStateMachine;
  readonly #check: (timeoutMs: number) => Promise<boolean>;
  readonly #onChange: (state: ProbeState, exhausted: boolean) => void;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(kind: ProbeKind, timing: ProbeTiming, check: (timeoutMs: number) => Promise<boolean>, onChange: (state: ProbeState, exhausted: boolean) => void) {
    this.kind = kind;
    this.#timing = timing;
    this.#machine = new ProbeStateMachine(kind, timing);
    this.#check = check;
    this.#onChange = onChange;
  }

  get state(): ProbeState {
    return this.#machine.state;
  }

  start(): void {
    this.#timer = setTimeout(() => { void this.#tick(); }, this.#timing.initialDelayMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    let passed: boolean;
    try {
      passed = await this.#check(this.#timing.timeoutMs);
    } catch {
      passed = false;
    }
    if (this.#stopped) return;
    const changed = this.#machine.record(passed);
    const exhausted = this.kind === 'startup' && this.#machine.exhausted;
    if (changed || exhausted) this.#onChange(this.#machine.state, exhausted);
    if (this.#stopped) return;
    // A succeeded startup probe is done; the others run for the container's life.
    if (this.kind === 'startup' && this.#machine.state === 'success') return;
    this.#timer = setTimeout(() => { void this.#tick(); }, this.#timing.periodMs);
  }
}
