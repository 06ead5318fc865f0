// Unit tests for pod IP allocation from the pod CIDR.
import { describe, expect, it } from 'vitest';
import { IpAllocator, parseCidr, intToIp, gatewayIp, cidrContains } from './ip-allocator.ts';

describe('ip allocator', () => {
  it('parses a CIDR and masks host bits', () => {
    const c = parseCidr('10.244.0.7/24');
    expect(intToIp(c.network)).toBe('10.244.0.0');
    expect(gatewayIp(c)).toBe('10.244.0.1');
    expect(cidrContains(c, '10.244.0.200')).toBe(true);
    expect(cidrContains(c, '10.244.1.1')).toBe(false);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/CIDR/);
    expect(() => parseCidr('10.0.300.0/24')).toThrow(/IPv4/);
  });

  it('skips network, gateway and broadcast, and rotates past freed addresses', () => {
    const a = new IpAllocator('10.1.0.0/29'); // .0 net, .1 gw, .2-.6 pods, .7 broadcast
    const got = ['a', 'b', 'c', 'd', 'e'].map((o) => a.allocate(o));
    expect(got).toEqual(['10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5', '10.1.0.6']);
    expect(() => a.allocate('f')).toThrow(expect.objectContaining({ code: 'SKEIN_ERR_NODE_IPS_EXHAUSTED' }));
    a.release('10.1.0.3');
    expect(a.allocate('f')).toBe('10.1.0.3');
    expect(a.allocate('f')).toBe('10.1.0.3'); // idempotent per owner
    a.release('10.1.0.2');
    a.release('10.1.0.4');
    expect(a.allocate('g')).toBe('10.1.0.4'); // next after the cursor, not the lowest free
  });

  it('reserves a known address only when it is free and usable', () => {
    const a = new IpAllocator('10.244.0.0/24');
    expect(a.reserve('10.244.0.9', 'x')).toBe(true);
    expect(a.reserve('10.244.0.9', 'y')).toBe(false);
    expect(a.reserve('10.244.0.1', 'y')).toBe(false);
    expect(a.reserve('10.244.0.255', 'y')).toBe(false);
    expect(a.reserve('10.9.0.5', 'y')).toBe(false);
    expect(a.allocate('x')).toBe('10.244.0.9');
    expect(a.inUse).toBe(1);
  });
});
