// h2c ports per pod come from the EndpointSlices of Services whose port says appProtocol kubernetes.io/h2c.
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { h2cPortsByPod } from './h2c-ports.ts';

const slice = (svc: string, ports: { port: number; appProtocol?: string }[], pods: string[]): V1EndpointSlice => ({
  metadata: { namespace: 'ns', name: `${svc}-x`, labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports,
  endpoints: pods.map((p, i) => ({ addresses: [`10.0.0.${i + 1}`], targetRef: { kind: 'Pod', name: p, namespace: 'ns' } })),
});

describe('h2c ports by pod', () => {
  it('lists the resolved port numbers of h2c Service ports for the pods behind them, from every Service', () => {
    const m = h2cPortsByPod([
      slice('web', [{ port: 3000 }, { port: 3001, appProtocol: 'kubernetes.io/h2c' }], ['a', 'b']),
      slice('grpc', [{ port: 9000, appProtocol: 'Kubernetes.io/H2C' }], ['a']),
      slice('plain', [{ port: 8080, appProtocol: 'http' }], ['c']),
    ]);
    expect(Object.fromEntries(m)).toEqual({ 'ns/a': [3001, 9000], 'ns/b': [3001] });
  });
});
