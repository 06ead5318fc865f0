// Unit tests for pod phase and conditions, following the kubelet's rules.
import { describe, expect, it } from 'vitest';
import type { ContainerView, PodSnapshot } from './pod-status.ts';
import { ConditionClock, buildPodStatus, podPhase } from './pod-status.ts';

const running = (name: string, ready = true, role: ContainerView['role'] = 'main'): ContainerView => ({
  name, image: 'busybox', role, state: { kind: 'running', startedAt: 't1' }, lastTerminated: undefined, restartCount: 0, started: true, ready, containerId: 'skein://1',
});
const exited = (name: string, exitCode: number, role: ContainerView['role'] = 'main'): ContainerView => ({
  ...running(name, false, role), state: { kind: 'terminated', exitCode, reason: exitCode ? 'Error' : 'Completed', startedAt: 't1', finishedAt: 't2', containerId: 'skein://1' },
});
function snap(over: Partial<PodSnapshot>, restartPolicy = 'Always'): PodSnapshot {
  return {
    pod: { metadata: { name: 'p' }, spec: { restartPolicy, containers: [] }, status: { conditions: [{ type: 'PodScheduled', status: 'True' }] } },
    podIp: '10.244.0.5', hostIp: '10.244.0.1', startTime: 't0', sandboxReady: true, sandboxError: undefined, initialized: true, finalPhase: undefined,
    inits: [], mains: [], ...over,
  };
}
const cond = (s: Record<string, unknown>, t: string) => (s.conditions as { type: string; status: string; reason?: string }[]).find((c) => c.type === t);

describe('pod status', () => {
  it('computes the phase like the kubelet', () => {
    expect(podPhase(snap({ initialized: false, mains: [running('a')] }))).toBe('Pending');
    expect(podPhase(snap({ mains: [running('a'), exited('b', 1)] }))).toBe('Running');
    expect(podPhase(snap({ mains: [exited('a', 0)] }, 'Never'))).toBe('Succeeded');
    expect(podPhase(snap({ mains: [exited('a', 0), exited('b', 2)] }, 'Never'))).toBe('Failed');
    expect(podPhase(snap({ mains: [exited('a', 2)] }, 'OnFailure'))).toBe('Running');
    expect(podPhase(snap({ mains: [exited('a', 0)] }, 'Always'))).toBe('Running');
    expect(podPhase(snap({ mains: [{ ...running('a'), state: { kind: 'waiting', reason: 'ContainerCreating' } }] }))).toBe('Pending');
    expect(podPhase(snap({ finalPhase: 'Failed', mains: [running('a')] }))).toBe('Failed');
  });

  it('is Ready only when app containers and native sidecars are ready', () => {
    const clock = new ConditionClock(() => 'T');
    const s1 = buildPodStatus(snap({ inits: [exited('init', 0, 'init'), running('proxy', false, 'sidecar')], mains: [running('app')] }), clock);
    expect(cond(s1, 'Initialized')?.status).toBe('True');
    expect(cond(s1, 'Ready')).toMatchObject({ status: 'False', reason: 'ContainersNotReady' });
    expect((s1.initContainerStatuses as { ready: boolean }[]).map((c) => c.ready)).toEqual([true, false]);
    const s2 = buildPodStatus(snap({ inits: [exited('init', 0, 'init'), running('proxy', true, 'sidecar')], mains: [running('app')] }), clock);
    expect(cond(s2, 'Ready')?.status).toBe('True');
    expect(cond(s2, 'PodScheduled')?.status).toBe('True');
    expect(s2.podIPs).toEqual([{ ip: '10.244.0.5' }]);
    expect(s2.message).toBeNull();
  });

  it('keeps lastTransitionTime until the condition flips, and honours readiness gates', () => {
    let now = 'T1';
    const clock = new ConditionClock(() => now);
    const s = snap({ mains: [running('app')] });
    expect(cond(buildPodStatus(s, clock), 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: 'T1' });
    now = 'T2';
    expect(cond(buildPodStatus(s, clock), 'Ready')).toMatchObject({ lastTransitionTime: 'T1' });
    expect(cond(buildPodStatus(snap({ mains: [running('app', false)] }), clock), 'Ready')).toMatchObject({ status: 'False', lastTransitionTime: 'T2' });
    const gated = snap({ mains: [running('app')] });
    gated.pod.spec!.readinessGates = [{ conditionType: 'example.com/gate' }];
    expect(cond(buildPodStatus(gated, clock), 'Ready')).toMatchObject({ status: 'False', reason: 'ReadinessGatesNotReady' });
    expect(cond(buildPodStatus(gated, clock), 'ContainersReady')?.status).toBe('True');
  });

  it('shows app containers as PodInitializing while init containers run', () => {
    const s = buildPodStatus(snap({ initialized: false, inits: [running('init', false, 'init')], mains: [{ ...running('app'), state: { kind: 'waiting', reason: 'ContainerCreating' } }] }), new ConditionClock(() => 'T'));
    expect((s.containerStatuses as { state: unknown }[])[0]!.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(s.phase).toBe('Pending');
  });
});
