// Label sets are built once (config time, or once per peer identity) and are the same object for every request after.
import { describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import { DEFAULT_LIMITS } from '../../api/config/proxy-config-defaults.ts';
import { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { destinationLabels, ownWorkload, peerLabels, peerLabelsForIdentity, UNKNOWN_PEER } from './peer-labels.ts';

function cluster(destination: Record<string, string>, endpointDestination?: Record<string, string>): UpstreamCluster {
  const parsed = parseProxyConfig({
    listeners: [],
    clusters: [{ name: 'c', destination, endpoints: [{ address: '10.0.0.1', port: 80 }, { address: '10.0.0.2', port: 80, ...(endpointDestination ? { destination: endpointDestination } : {}) }] }],
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return new UpstreamCluster(parsed.value.clusters[0]!, DEFAULT_LIMITS.sidecar, null);
}

describe('peer labels', () => {
  it('interns equal label sets into one object and fills "unknown"', () => {
    const a = peerLabels({ workload: 'web', namespace: 'shop' });
    expect(peerLabels({ workload: 'web', namespace: 'shop', identity: '' })).toBe(a);
    expect(a).toEqual({ workload: 'web', namespace: 'shop', identity: 'unknown', service: 'unknown' });
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('reads the namespace of a SPIFFE peer identity once, and treats no identity as unknown', () => {
    const id = 'spiffe://cluster.local/ns/shop/sa/web';
    const p = peerLabelsForIdentity(id);
    expect(p).toEqual({ workload: 'unknown', namespace: 'shop', identity: id, service: 'unknown' });
    expect(peerLabelsForIdentity(id)).toBe(p);
    expect(peerLabelsForIdentity(null)).toBe(UNKNOWN_PEER);
  });

  it('stays bounded: past the cap every new label set is UNKNOWN_PEER', () => {
    const seen = new Set<object>();
    for (let i = 0; i < 2000; i++) seen.add(peerLabelsForIdentity(`spiffe://td/ns/n${i}/sa/s`));
    expect(seen.size).toBeLessThanOrEqual(1025);
    expect(peerLabelsForIdentity('spiffe://td/ns/overflow/sa/s')).toBe(UNKNOWN_PEER);
  });

  it('gives each endpoint its cluster metadata, its own where set, the same object on every call', () => {
    const c = cluster({ workload: 'api', namespace: 'shop', service: 'api.shop' }, { workload: 'api-canary' });
    const [e1, e2] = c.endpoints;
    const l1 = destinationLabels(c, e1!);
    expect(l1).toEqual({ workload: 'api', namespace: 'shop', identity: 'unknown', service: 'api.shop' });
    expect(destinationLabels(c, e2!)).toEqual({ workload: 'api-canary', namespace: 'shop', identity: 'unknown', service: 'api.shop' });
    expect(destinationLabels(c, e1!)).toBe(l1);
  });

  it('a new config version with new metadata is seen even where the endpoint handle (its pools) is reused', () => {
    const before = cluster({ workload: 'api' });
    const parsed = parseProxyConfig({ listeners: [], clusters: [{ name: 'c', destination: { workload: 'api-next' }, endpoints: [{ address: '10.0.0.1', port: 80 }, { address: '10.0.0.2', port: 80 }] }] });
    if (!parsed.ok) throw new Error('bad');
    const after = new UpstreamCluster(parsed.value.clusters[0]!, DEFAULT_LIMITS.sidecar, before);
    expect(after.endpoints[0]).toBe(before.endpoints[0]);
    expect(destinationLabels(before, before.endpoints[0]!).workload).toBe('api');
    expect(destinationLabels(after, after.endpoints[0]!).workload).toBe('api-next');
  });

  it('derives the proxy\'s own workload from its pod name and ServiceAccount when the config says nothing', () => {
    const none = { workload: '', namespace: '', identity: '' };
    expect(ownWorkload(none, { pod: 'web-5c67859b8f-lhvzk', namespace: 'shop', serviceAccount: 'web-sa' })).toEqual({
      workload: 'web',
      namespace: 'shop',
      identity: 'spiffe://cluster.local/ns/shop/sa/web-sa',
    });
    expect(ownWorkload(none, { pod: 'node-exporter-x7k2p', namespace: 'mon' }).workload).toBe('node-exporter');
    expect(ownWorkload({ workload: 'given', namespace: 'ns', identity: '' }, { pod: 'web-5c67859b8f-lhvzk' }).workload).toBe('given');
  });
});
