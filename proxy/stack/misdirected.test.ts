// The 421 decision: Host against SNI, alone (strict) or through the listeners each selects (Gateway API), with the
// listeners of the conformance suite's HTTPS Gateway (none, an exact name, a wildcard, an exact name under the wildcard).
import { describe, expect, it } from 'vitest';
import { misdirected, selectListenerHostname } from './misdirected.ts';

const LISTENERS = ['*', 'second-example.org', '*.wildcard.org', 'fourth-example.wildcard.org'];

describe('misdirected requests', () => {
  it('selects the most specific listener: exact, then the longest wildcard, then the one without hostname', () => {
    expect(selectListenerHostname(LISTENERS, 'fourth-example.wildcard.org')).toBe('fourth-example.wildcard.org');
    expect(selectListenerHostname(LISTENERS, 'third-example.wildcard.org')).toBe('*.wildcard.org');
    expect(selectListenerHostname(LISTENERS, 'a.b.wildcard.org')).toBe('*.wildcard.org');
    expect(selectListenerHostname(LISTENERS, 'wildcard.org')).toBe('*');
    expect(selectListenerHostname(LISTENERS, 'unknown-example.org')).toBe('*');
    expect(selectListenerHostname(['*.a.example', '*.b.a.example'], 'x.b.a.example')).toBe('*.b.a.example');
    expect(selectListenerHostname(['second-example.org'], 'unknown-example.org')).toBeNull();
  });

  it.each([
    ['example.org', 'second-example.org', true],
    ['example.org', 'unknown-example.org', false],
    ['second-example.org', 'example.org', true],
    ['second-example.org', 'unknown-example.org', true],
    ['third-example.wildcard.org', 'fith-example.wildcard.org', false],
    ['third-example.wildcard.org', 'fourth-example.wildcard.org', true],
    ['third-example.wildcard.org', 'second-example.org', true],
    ['fourth-example.wildcard.org', 'fith-example.wildcard.org', true],
    ['unknown-example.org', 'example.org', false],
  ])('SNI %s, Host %s: misdirected %s', (sni, host, expected) => {
    expect(misdirected(LISTENERS, sni, host)).toBe(expected);
  });

  it('without the listeners: misdirected whenever Host differs from SNI', () => {
    expect(misdirected(undefined, 'api.test', 'api.test')).toBe(false);
    expect(misdirected(undefined, 'example.org', 'unknown-example.org')).toBe(true);
  });

  it('an SNI no listener takes and a Host no listener takes are not told apart (the routes answer 404)', () => {
    expect(misdirected(['a.test'], 'x.test', 'y.test')).toBe(false);
    expect(misdirected(['a.test'], 'x.test', 'a.test')).toBe(true);
  });
});
