// Computes a pod's status (phase, IPs, conditions, container statuses) from what the pod runner knows, with the kubelet's rules.
import type { V1Pod } from '@kubernetes/client-node';
import type { ContainerState, ContainerSupervisor, TerminatedState } from './container-supervisor.ts';

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface ContainerView {
  readonly name: string;
  readonly image: string;
  readonly role: ContainerSupervisor['role'];
  readonly state: ContainerState;
  readonly lastTerminated: TerminatedState | undefined;
  readonly restartCount: number;
  readonly started: boolean;
  readonly ready: boolean;
  readonly containerId: string;
}

export interface PodSnapshot {
  readonly pod: V1Pod;
  readonly podIp: string | undefined;
  readonly hostIp: string;
  readonly startTime: string | undefined;
  readonly sandboxReady: boolean;
  readonly sandboxError: string | undefined;
  readonly initialized: boolean;
  readonly finalPhase: 'Succeeded' | 'Failed' | undefined;
  readonly finalReason?: string | undefined;
  readonly inits: readonly ContainerView[];
  readonly mains: readonly ContainerView[];
}

/** Remembers when each condition last changed value, so lastTransitionTime is stable across status writes. */
export class ConditionClock {
  readonly #seen = new Map<string, { status: string; time: string }>();
  readonly #now: () => string;
  constructor(now: () => string) { this.#now = now; }
  time(type: string, status: string): string {
    const prev = this.#seen.get(type);
    if (prev && prev.status === status) return prev.time;
    const rec = { status, time: this.#now() };
    this.#seen.set(type, rec);
    return rec.time;
  }
}

function stateJson(s: ContainerState): Record<string, unknown> {
  switch (s.kind) {
    case 'waiting': return { waiting: s.message ? { reason: s.reason, message: s.message } : { reason: s.reason } };
    case 'running': return { running: { startedAt: s.startedAt } };
    case 'terminated': return { terminated: terminatedJson(s) };
  }
}

function terminatedJson(t: TerminatedState): Record<string, unknown> {
  const o: Record<string, unknown> = { exitCode: t.exitCode, reason: t.reason, startedAt: t.startedAt, finishedAt: t.finishedAt, containerID: t.containerId };
  if (t.signal !== undefined) o.signal = t.signal;
  if (t.message) o.message = t.message;
  return o;
}

function isReady(c: ContainerView): boolean {
  if (c.role === 'init') return c.state.kind === 'terminated' && c.state.exitCode === 0;
  return c.state.kind === 'running' && c.started && c.ready;
}

function containerJson(c: ContainerView, waitingReason: string | undefined): Record<string, unknown> {
  let state = c.state;
  if (waitingReason && state.kind === 'waiting' && state.reason === 'ContainerCreating') state = { kind: 'waiting', reason: waitingReason };
  const o: Record<string, unknown> = {
    name: c.name, image: c.image, imageID: c.image, ready: isReady(c), started: c.state.kind === 'running' && c.started,
    restartCount: c.restartCount, state: stateJson(state), lastState: c.lastTerminated ? { terminated: terminatedJson(c.lastTerminated) } : {},
  };
  if (c.containerId) o.containerID = c.containerId;
  return o;
}

export function podPhase(s: PodSnapshot): PodPhase {
  if (s.finalPhase) return s.finalPhase;
  if (!s.initialized) return 'Pending';
  let running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const c of s.mains) {
    if (c.state.kind === 'running') running++;
    else if (c.state.kind === 'terminated') { stopped++; if (c.state.exitCode === 0) succeeded++; }
    else if (c.lastTerminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    const policy = s.pod.spec?.restartPolicy ?? 'Always';
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    return policy === 'OnFailure' ? 'Running' : 'Failed';
  }
  return 'Pending';
}

/** The status object sent as a JSON merge patch (times are RFC 3339 strings, arrays are sent whole). */
export function buildPodStatus(s: PodSnapshot, clock: ConditionClock): Record<string, unknown> {
  const phase = podPhase(s);
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const sidecars = s.inits.filter((c) => c.role === 'sidecar');
  const unready = [...s.mains, ...sidecars].filter((c) => !isReady(c)).map((c) => c.name);
  const containersReady = !terminal && unready.length === 0 && s.mains.length > 0;
  const gates = (s.pod.spec?.readinessGates ?? []).map((g) => g.conditionType);
  const existing = s.pod.status?.conditions ?? [];
  const gatesOk = gates.every((g) => existing.some((c) => c.type === g && c.status === 'True'));
  const ready = containersReady && gatesOk;
  const cond = (type: string, ok: boolean, reason?: string, message?: string): Record<string, unknown> => {
    const status = ok ? 'True' : 'False';
    const o: Record<string, unknown> = { type, status, lastProbeTime: null, lastTransitionTime: clock.time(type, status) };
    if (!ok && reason) o.reason = reason;
    if (!ok && message) o.message = message;
    return o;
  };
  const notReadyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const notReadyMsg = terminal ? undefined : `containers with unready status: [${unready.join(' ')}]`;
  const pendingInits = s.inits.filter((c) => c.role === 'init' && !isReady(c)).map((c) => c.name);
  const ours = new Set(['PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'Ready']);
  const conditions = [
    ...existing.filter((c) => !ours.has(c.type)),
    cond('PodReadyToStartContainers', s.sandboxReady && !terminal),
    cond('Initialized', s.initialized, 'ContainersNotInitialized', `containers with incomplete status: [${pendingInits.join(' ')}]`),
    cond('ContainersReady', containersReady, notReadyReason, notReadyMsg),
    cond('Ready', ready, gatesOk ? notReadyReason : 'ReadinessGatesNotReady', gatesOk ? notReadyMsg : 'the status of pod readiness gates is not "True"'),
  ];
  if (!existing.some((c) => c.type === 'PodScheduled')) conditions.unshift(cond('PodScheduled', true));
  const mainWaiting = s.initialized ? undefined : 'PodInitializing';
  const status: Record<string, unknown> = {
    phase,
    hostIP: s.hostIp,
    hostIPs: [{ ip: s.hostIp }],
    conditions,
    initContainerStatuses: s.inits.map((c) => containerJson(c, undefined)),
    containerStatuses: s.mains.map((c) => containerJson(c, mainWaiting)),
  };
  if (s.podIp) { status.podIP = s.podIp; status.podIPs = [{ ip: s.podIp }]; }
  if (s.startTime) status.startTime = s.startTime;
  // null removes a field in a JSON merge patch: a cleared error must not linger in the status.
  status.message = s.sandboxError ?? null;
  status.reason = s.finalReason ?? (s.sandboxError ? 'SandboxNotReady' : null);
  return status;
}
