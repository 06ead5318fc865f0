// Unit tests for container environment resolution and $(VAR) expansion.
import { describe, expect, it } from 'vitest';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { expandVars, resolveContainerEnv } from './container-env.ts';

const pod: V1Pod = {
  metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', labels: { app: 'web' }, annotations: { 'a.b/c': 'x' } },
  spec: { nodeName: 'skein-local', serviceAccountName: 'web-sa', containers: [] },
};
const ctx = {
  pod, podIp: '10.244.0.7', hostIp: '10.244.0.1', nodeName: 'skein-local',
  lookup: async (kind: string, ns: string, name: string) =>
    kind === 'ConfigMap' && ns === 'shop' && name === 'cfg' ? { MODE: 'fast', LEVEL: '3' } : undefined,
};

describe('container env', () => {
  it('expands $(VAR), keeps unknown references and unescapes $$', () => {
    expect(expandVars('a-$(X)-$(Y)-$$(X)-$', { X: '1' })).toBe('a-1-$(Y)-$(X)-$');
  });

  it('resolves values, fieldRefs, configMap keys, envFrom and resource limits', async () => {
    const c: V1Container = {
      name: 'app',
      envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CFG_' }, { secretRef: { name: 'nope', optional: true } }],
      env: [
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'URL', value: 'http://$(POD_IP):8080/$(CFG_MODE)' },
        { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'MODE' } } },
        { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      ],
      resources: { limits: { memory: '64Mi' } },
    };
    const r = await resolveContainerEnv(c, ctx);
    expect(r).toEqual({ ok: true, value: {
      CFG_MODE: 'fast', CFG_LEVEL: '3', POD_NAME: 'web-1', POD_NS: 'shop', POD_IP: '10.244.0.7', SA: 'web-sa', APP: 'web',
      URL: 'http://10.244.0.7:8080/fast', MODE: 'fast', MEM: '64',
    } });
  });

  it('fails on a missing required key and skips an optional one', async () => {
    const bad = await resolveContainerEnv({ name: 'a', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'NOPE' } } }] }, ctx);
    expect(bad.ok).toBe(false);
    const opt = await resolveContainerEnv({ name: 'a', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'k', optional: true } } }] }, ctx);
    expect(opt).toEqual({ ok: true, value: {} });
    const field = await resolveContainerEnv({ name: 'a', env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.bogus' } } }] }, ctx);
    expect(!field.ok && field.error).toMatch(/unsupported fieldRef/);
  });
});
