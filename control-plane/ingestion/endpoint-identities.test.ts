// Which pods' endpoints are reached over mTLS, and with which identity: only pods the injector gave the mesh roots.
import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { endpointIdentities } from './cluster-watcher.ts';

const pod = (ns: string, name: string, sa: string | undefined, identity: string | undefined): V1Pod => ({
  metadata: { namespace: ns, name, annotations: identity ? { 'skein.dev/mesh-identity': identity } : {} },
  spec: { containers: [], ...(sa ? { serviceAccountName: sa } : {}) },
});

describe('endpointIdentities', () => {
  it('maps meshed pods to the SPIFFE id of their ServiceAccount (default when unset) and skips the rest', () => {
    const m = endpointIdentities([pod('demo', 'web-1', 'web', 'enabled'), pod('demo', 'api-1', undefined, 'enabled'), pod('demo', 'plain', 'x', undefined), pod('demo', 'off', 'x', 'disabled')], 'td.example');
    expect([...m]).toEqual([
      ['demo/web-1', 'spiffe://td.example/ns/demo/sa/web'],
      ['demo/api-1', 'spiffe://td.example/ns/demo/sa/default'],
    ]);
  });
});
