import { describe, expect, it } from 'vitest';
import { EndpointState } from './endpoint-state.ts';
import { createLoadBalancer } from './load-balancer.ts';

const eps = (weights: number[]): EndpointState[] => weights.map((w, i) => new EndpointState({ address: '10.0.0.' + i, port: 80, weight: w }));

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('load balancers', () => {
  it('round robin honours weights, smoothly interleaved', () => {
    const lb = createLoadBalancer(eps([5, 1, 1]), { policy: 'round-robin', hashOn: null });
    const picks = Array.from({ length: 7 }, () => lb.pick({ hashKey: null })!.address);
    expect(picks.filter((a) => a === '10.0.0.0').length).toBe(5);
    expect(picks.slice(0, 2)).not.toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('peak EWMA prefers the endpoint with lower latency', () => {
    const list = eps([1, 1]);
    list[0]!.observeLatency(200);
    list[1]!.observeLatency(5);
    const lb = createLoadBalancer(list, { policy: 'p2c-ewma', hashOn: null }, seeded(1));
    for (let i = 0; i < 20; i++) expect(lb.pick({ hashKey: null })).toBe(list[1]);
  });

  it('peak EWMA reacts to a latency spike at once and decays slowly', () => {
    let now = 1000;
    const e = new EndpointState({ address: 'a', port: 1, weight: 1 }, () => now);
    e.observeLatency(10);
    e.observeLatency(500);
    expect(e.ewmaMs).toBe(500);
    now += 1000;
    e.observeLatency(10);
    expect(e.ewmaMs).toBeGreaterThan(400);
  });

  it('least request picks the endpoint with the fewest in flight', () => {
    const list = eps([1, 1, 1]);
    list[0]!.active = 3;
    list[1]!.active = 0;
    list[2]!.active = 2;
    const lb = createLoadBalancer(list, { policy: 'least-request', hashOn: null }, seeded(2));
    expect(lb.pick({ hashKey: null })).toBe(list[1]);
  });

  it('ring hash is stable for a key and moves few keys when an endpoint is removed', () => {
    const four = eps([1, 1, 1, 1]);
    const lb4 = createLoadBalancer(four, { policy: 'ring-hash', hashOn: { type: 'header', name: 'x' } });
    const lb3 = createLoadBalancer(four.slice(0, 3), { policy: 'ring-hash', hashOn: { type: 'header', name: 'x' } });
    let moved = 0;
    for (let k = 0; k < 1000; k++) {
      const a = lb4.pick({ hashKey: `key-${k}` })!;
      expect(lb4.pick({ hashKey: `key-${k}` })).toBe(a);
      const b = lb3.pick({ hashKey: `key-${k}` })!;
      if (a !== four[3] && a !== b) moved++;
    }
    expect(moved).toBe(0);
  });

  it('returns null when there are no endpoints', () => {
    for (const policy of ['p2c-ewma', 'round-robin', 'least-request', 'ring-hash'] as const) {
      expect(createLoadBalancer([], { policy, hashOn: null }).pick({ hashKey: 'k' })).toBeNull();
    }
  });
});
