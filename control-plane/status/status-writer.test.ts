// The status writer on fake timers with a fake API: writes only while leading, only what differs (a second pass over
// the written objects writes nothing), folds bursts, retries a conflict; and the desired TrafficPolicy status itself.
import type { V1Service } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TrafficPolicy } from '../../api/crd/traffic-policy.ts';
import type { MeshInputs } from '../translation/mesh-inputs.ts';
import { trafficPolicyStatusUpdates, type StatusUpdate } from './desired-status.ts';
import { StatusWriter, type StatusWriteResult } from './status-writer.ts';

const echo: V1Service = { metadata: { namespace: 'demo', name: 'echo' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 80 }] } };
const tp = (name: string, generation: number, spec: Partial<TrafficPolicy['spec']> = {}, status?: TrafficPolicy['status']): TrafficPolicy => ({
  apiVersion: 'skein.dev/v1alpha1',
  kind: 'TrafficPolicy',
  metadata: { namespace: 'demo', name, generation, creationTimestamp: '2026-12-01T00:00:00Z' },
  spec: { targetRef: { kind: 'Service', name: 'echo' }, timeouts: { request: '1s' }, ...spec },
  ...(status ? { status } : {}),
});

/** A fake API holding the objects; a write stores the status (as the informer would then show it). */
function fakeApi(policies: TrafficPolicy[]) {
  const objects = new Map(policies.map((p) => [p.metadata.name, p]));
  const writes: StatusUpdate[] = [];
  let conflictsLeft = 0;
  return {
    objects,
    writes,
    conflictOnce: () => (conflictsLeft = 1),
    inputs: (): MeshInputs => ({ services: [echo], endpointSlices: [], namespaces: [], trafficPolicies: [...objects.values()], httpRoutes: [], grpcRoutes: [] }),
    write: async (u: StatusUpdate): Promise<StatusWriteResult> => {
      if (conflictsLeft > 0) {
        conflictsLeft--;
        return 'conflict';
      }
      writes.push(u);
      objects.set(u.name, { ...(u.object as unknown as TrafficPolicy), status: u.status as TrafficPolicy['status'] });
      return 'ok';
    },
  };
}

describe('StatusWriter', () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.parse('2026-12-06T08:00:00Z') }));
  afterEach(() => vi.useRealTimers());

  it('writes only while leading, folds a burst into one pass, and writes nothing the second time', async () => {
    const api = fakeApi([tp('a', 1), tp('b', 1, { timeouts: { request: '48h' } })]);
    const w = new StatusWriter({ inputs: api.inputs, compute: [trafficPolicyStatusUpdates], write: api.write, debounceMs: 100 });
    w.changed();
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.writes).toHaveLength(0); // not leading
    w.setLeading(true);
    for (let i = 0; i < 10; i++) w.changed();
    await vi.advanceTimersByTimeAsync(100);
    await w.idle();
    expect(w.passes).toBe(1);
    expect(api.writes.map((u) => u.name)).toEqual(['a', 'b']);
    expect(api.objects.get('b')!.status!.conditions![0]).toMatchObject({ type: 'Accepted', status: 'False', reason: 'Invalid', observedGeneration: 1 });
    // the informer reports the writer's own writes: the next pass finds nothing to do
    w.changed();
    await vi.advanceTimersByTimeAsync(100);
    await w.idle();
    expect(w.passes).toBe(2);
    expect(api.writes).toHaveLength(2);
    // a new generation is written again, keeping lastTransitionTime where the condition's status did not change
    const before = api.objects.get('a')!.status!.conditions![0]!.lastTransitionTime;
    api.objects.set('a', { ...api.objects.get('a')!, metadata: { ...api.objects.get('a')!.metadata, generation: 2 } });
    vi.setSystemTime(Date.parse('2026-12-06T09:00:00Z'));
    w.changed();
    await vi.advanceTimersByTimeAsync(100);
    await w.idle();
    expect(api.writes).toHaveLength(3);
    expect(api.objects.get('a')!.status).toMatchObject({ observedGeneration: 2, conditions: [{ type: 'Accepted', status: 'True', observedGeneration: 2, lastTransitionTime: before }, { type: 'Conflicted', status: 'False' }] });
  });

  it('a write that lost a race is retried by a later pass', async () => {
    const api = fakeApi([tp('a', 1)]);
    const w = new StatusWriter({ inputs: api.inputs, compute: [trafficPolicyStatusUpdates], write: api.write, debounceMs: 100, retryMs: 1000 });
    api.conflictOnce();
    w.setLeading(true);
    await vi.advanceTimersByTimeAsync(100);
    await w.idle();
    expect(w.conflicts).toBe(1);
    expect(api.writes).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    await w.idle();
    expect(api.writes).toHaveLength(1);
  });

  it('stops writing the moment it loses the Lease', async () => {
    const api = fakeApi([tp('a', 1), tp('b', 1)]);
    let w: StatusWriter | null = null;
    const write = async (u: StatusUpdate) => {
      const r = await api.write(u);
      w!.setLeading(false);
      return r;
    };
    w = new StatusWriter({ inputs: api.inputs, compute: [trafficPolicyStatusUpdates], write, debounceMs: 100 });
    w.setLeading(true);
    await vi.advanceTimersByTimeAsync(100);
    await w.idle();
    expect(api.writes.map((u) => u.name)).toEqual(['a']);
  });
});
