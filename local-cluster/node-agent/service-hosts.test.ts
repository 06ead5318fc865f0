// Unit tests for the hosts-file lines that stand in for cluster DNS.
import { describe, expect, it } from 'vitest';
import { serviceHostsLines } from './service-hosts.ts';

describe('service hosts lines', () => {
  it('maps ClusterIP services to their IP, headless ones to ready endpoints, and kubernetes to the API relay', () => {
    const text = serviceHostsLines({
      apiAddress: '10.244.0.1',
      services: [
        { metadata: { name: 'kubernetes', namespace: 'default' }, spec: { clusterIP: '10.96.0.1' } },
        { metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.3.4' } },
        { metadata: { name: 'cp', namespace: 'skein-system' }, spec: { clusterIP: 'None' } },
        { metadata: { name: 'ext', namespace: 'shop' }, spec: { type: 'ExternalName', externalName: 'example.com' } },
      ],
      slices: [{
        metadata: { namespace: 'skein-system', labels: { 'kubernetes.io/service-name': 'cp' } }, addressType: 'IPv4',
        endpoints: [
          { addresses: ['10.244.0.7'], conditions: { ready: true }, hostname: 'cp-0' },
          { addresses: ['10.244.0.8'], conditions: { ready: false } },
        ],
      }],
    }, 'shop');
    expect(text.split('\n')).toEqual([
      '10.244.0.1\tkubernetes.default.svc.cluster.local kubernetes.default.svc kubernetes.default',
      '10.96.3.4\tweb.shop.svc.cluster.local web.shop.svc web.shop web',
      '10.244.0.7\tcp.skein-system.svc.cluster.local cp.skein-system.svc cp.skein-system',
      '10.244.0.7\tcp-0.cp.skein-system.svc.cluster.local cp-0.cp.skein-system.svc',
    ]);
  });
});
