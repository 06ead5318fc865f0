// Port, CIDR and quantity parsing: what the exclude-* and proxy-* annotations accept and refuse.
import { describe, expect, it } from 'vitest';
import { formatPortSpec, parseCidrList, parsePortList } from './port-list.ts';
import { parseQuantity } from './quantity.ts';

describe('parsePortList', () => {
  it('accepts ports and ranges', () => {
    const r = parsePortList(' 80, 8000-8010 ,9000:9001,');
    expect(r.ok && r.value.map(formatPortSpec)).toEqual(['80', '8000:8010', '9000:9001']);
  });
  it.each(['0', '65536', 'http', '80;reboot', '10-5', '-1', '1e3', '80 81'])('refuses %s', (bad) => {
    expect(parsePortList(bad).ok).toBe(false);
  });
});

describe('parseCidrList', () => {
  it('accepts v4 and v6, bare addresses get a full prefix', () => {
    const r = parseCidrList('10.0.0.0/8,1.2.3.4, FD00::/8');
    expect(r.ok && r.value).toEqual([{ family: 4, text: '10.0.0.0/8' }, { family: 4, text: '1.2.3.4/32' }, { family: 6, text: 'fd00::/8' }]);
  });
  it.each(['10.0.0.0/33', '10.0.0/8', 'example.com', '::1/129', '10.0.0.0/8 -j ACCEPT', '$(id)'])('refuses %s', (bad) => {
    expect(parseCidrList(bad).ok).toBe(false);
  });
});

describe('parseQuantity', () => {
  it('parses Kubernetes quantities', () => {
    expect(parseQuantity('100m')).toBeCloseTo(0.1);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity('64Mi')).toBe(64 * 2 ** 20);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('1.5Gi')).toBe(1.5 * 2 ** 30);
    expect(parseQuantity('2e3')).toBe(2000);
  });
  it.each(['', 'lots', '12 GB', '-1', '1Mb', '1e999'])('refuses %s', (bad) => {
    expect(parseQuantity(bad)).toBeNull();
  });
});
