// The demo's control-plane check passes only when every pod is SYNCED (with an acknowledged version) on some replica.
import { describe, expect, it } from 'vitest';
import { unsyncedPods, type ListedProxy } from './demo-control-plane-check.ts';

const p = (podName: string, status: string, replica = 'cp-0', namespace = 'demo', ackedVersion = 'v1'): ListedProxy => ({ podName, namespace, status, replica, ackedVersion });

describe('unsyncedPods', () => {
  it('accepts pods synced on different replicas', () => {
    expect(unsyncedPods([p('web', 'SYNCED', 'cp-0'), p('api', 'SYNCED', 'cp-1')], 'demo', ['web', 'api'])).toEqual([]);
  });
  it('names pods that are missing, stale, nacked, in another namespace or never acknowledged', () => {
    const listed = [p('web', 'STALE'), p('api', 'NACKED'), p('echo', 'SYNCED', 'cp-0', 'other'), p('loadgen', 'SYNCED', 'cp-0', 'demo', '')];
    expect(unsyncedPods(listed, 'demo', ['web', 'api', 'echo', 'loadgen', 'gone'])).toEqual(['web', 'api', 'echo', 'loadgen', 'gone']);
  });
  it('a pod synced on one replica and stale on another (it reconnected) counts as synced', () => {
    expect(unsyncedPods([p('web', 'STALE', 'cp-0'), p('web', 'SYNCED', 'cp-1')], 'demo', ['web'])).toEqual([]);
  });
});
