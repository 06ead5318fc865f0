// Unit tests for volume materialization: projected tokens (and their refresh), ConfigMap/Secret items, downward API, mounts.
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { PodVolumes, type ClusterReader } from './pod-volumes.ts';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'skein-vol-'));
  dirs.push(d);
  return d;
}

function reader(tokens: string[]): ClusterReader & { requests: unknown[] } {
  const requests: unknown[] = [];
  return {
    requests,
    configMap: async (ns, name) => (ns === 'shop' && name === 'cfg' ? { 'a.conf': Buffer.from('A'), 'b.conf': Buffer.from('B') } : undefined),
    secret: async (ns, name) => (name === 'tls' ? { 'tls.key': Buffer.from('KEY') } : undefined),
    requestToken: async (r) => { requests.push(r); return { token: tokens.shift() ?? 'none', ttlSeconds: 600 }; },
  };
}

const pod = (volumes: NonNullable<V1Pod['spec']>['volumes']): V1Pod => ({
  metadata: { name: 'web-1', namespace: 'shop', uid: 'uid-1', labels: { app: 'web', tier: 'front' } },
  spec: { serviceAccountName: 'web', containers: [], volumes },
});
const ctx = { podIp: '10.244.0.9', hostIp: '10.244.0.1', nodeName: 'n' };

describe('pod volumes', () => {
  afterEach(() => {
    vi.useRealTimers();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes a projected volume: bound token with audience and expiry, configMap items, downward API, with modes', async () => {
    const root = tmp();
    const r = reader(['tok-1']);
    const v = new PodVolumes(pod([{
      name: 'api', projected: { defaultMode: 0o440, sources: [
        { serviceAccountToken: { audience: 'skein.dev/identity', expirationSeconds: 100, path: 'token' } },
        { configMap: { name: 'cfg', items: [{ key: 'a.conf', path: 'conf/a', mode: 0o400 }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }, { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
      ] },
    }]), root, r, ctx, () => {}, () => {});
    await v.setup();
    v.close();
    expect(readFileSync(join(root, 'api', 'token'), 'utf8')).toBe('tok-1');
    expect(r.requests).toEqual([{ namespace: 'shop', serviceAccount: 'web', audience: 'skein.dev/identity', expirationSeconds: 600, podName: 'web-1', podUid: 'uid-1' }]);
    expect(readFileSync(join(root, 'api', 'conf', 'a'), 'utf8')).toBe('A');
    expect(statSync(join(root, 'api', 'conf', 'a')).mode & 0o777).toBe(0o400);
    expect(statSync(join(root, 'api', 'token')).mode & 0o777).toBe(0o440);
    expect(readFileSync(join(root, 'api', 'namespace'), 'utf8')).toBe('shop');
    expect(readFileSync(join(root, 'api', 'labels'), 'utf8')).toBe('app="web"\ntier="front"');
  });

  it('refreshes a token at 80 % of its lifetime', async () => {
    vi.useFakeTimers();
    const root = tmp();
    const v = new PodVolumes(pod([{ name: 't', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }]), root, reader(['first', 'second']), ctx, () => {}, () => {});
    await v.setup();
    expect(readFileSync(join(root, 't', 'token'), 'utf8')).toBe('first');
    await vi.advanceTimersByTimeAsync(479_000);
    expect(readFileSync(join(root, 't', 'token'), 'utf8')).toBe('first');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(readFileSync(join(root, 't', 'token'), 'utf8')).toBe('second');
    v.close();
  });

  it('fails on a missing ConfigMap unless optional, and refuses unsupported volume types', async () => {
    const missing = new PodVolumes(pod([{ name: 'c', configMap: { name: 'nope' } }]), tmp(), reader([]), ctx, () => {}, () => {});
    await expect(missing.setup()).rejects.toMatchObject({ code: 'SKEIN_ERR_NODE_VOLUME_SOURCE' });
    const optional = new PodVolumes(pod([{ name: 'c', configMap: { name: 'nope', optional: true } }]), tmp(), reader([]), ctx, () => {}, () => {});
    await expect(optional.setup()).resolves.toBeUndefined();
    const nfs = new PodVolumes(pod([{ name: 'n', nfs: { server: 'x', path: '/' } }]), tmp(), reader([]), ctx, () => {}, () => {});
    await expect(nfs.setup()).rejects.toMatchObject({ code: 'SKEIN_ERR_NODE_VOLUME_UNSUPPORTED' });
  });

  it('plans bind mounts (subPath, readOnly) and creates missing targets, reporting each one it created', async () => {
    const root = tmp();
    const target = join(tmp(), 'not', 'there');
    const created: string[] = [];
    const v = new PodVolumes(pod([{ name: 'cfg', configMap: { name: 'cfg' } }, { name: 'sec', secret: { secretName: 'tls' } }, { name: 'scratch', emptyDir: {} }]),
      root, reader([]), ctx, (p) => created.push(p), () => {});
    await v.setup();
    const plans = v.mountsFor({
      name: 'app',
      volumeMounts: [
        { name: 'cfg', mountPath: join(target, 'cfg'), readOnly: true },
        { name: 'sec', mountPath: join(target, 'key.pem'), subPath: 'tls.key' },
        { name: 'scratch', mountPath: join(target, 'scratch') },
      ],
    });
    expect(plans).toEqual([
      { source: join(root, 'cfg'), target: join(target, 'cfg'), readOnly: true },
      { source: join(root, 'sec', 'tls.key'), target: join(target, 'key.pem'), readOnly: false },
      { source: join(root, 'scratch'), target: join(target, 'scratch'), readOnly: false },
    ]);
    expect(created).toEqual([join(target, '..'), target, join(target, 'cfg'), join(target, 'key.pem'), join(target, 'scratch')]);
    expect(statSync(join(target, 'key.pem')).isFile()).toBe(true);
    expect(statSync(join(root, 'scratch')).mode & 0o777).toBe(0o777);
    expect(() => v.mountsFor({ name: 'x', volumeMounts: [{ name: 'ghost', mountPath: '/x' }] })).toThrow(/unknown volume/);
    expect(() => v.mountsFor({ name: 'x', volumeMounts: [{ name: 'cfg', mountPath: join(target, 'y'), subPath: '../../etc' }] })).toThrow(/escapes/);
    expect(existsSync(join(root, 'cfg', 'a.conf'))).toBe(true);
  });
});
