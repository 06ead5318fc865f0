// The edge's canonical path: decoded where harmless, dot segments resolved, ambiguities refused.
import { describe, expect, it } from 'vitest';
import { ProxyError } from '../errors/proxy-error.ts';
import { normalizePath } from './path-normalize.ts';

const norm = (p: string): string => {
  const r = normalizePath(p);
  return r instanceof ProxyError ? `400 ${r.message}` : r;
};

describe('normalizePath', () => {
  it('leaves canonical paths alone (same string)', () => {
    const p = '/api/v1/items?x=1&y=%2F';
    expect(normalizePath(p)).toBe(p);
    expect(norm('/')).toBe('/');
  });

  it('resolves dot segments, never above the root, and merges slashes', () => {
    expect(norm('/a/b/../c')).toBe('/a/c');
    expect(norm('/a/./b/')).toBe('/a/b/');
    expect(norm('/../../etc/passwd')).toBe('/etc/passwd');
    expect(norm('//admin//x')).toBe('/admin/x');
    expect(norm('/a/b/..')).toBe('/a/');
    expect(norm('/a/.')).toBe('/a/');
    expect(norm('/public/..?q=/..')).toBe('/?q=/..');
  });

  it('decodes unreserved escapes (so %2e%2e is ..) and upper-cases the others', () => {
    expect(norm('/%61dmin')).toBe('/admin');
    expect(norm('/public/%2e%2e/admin')).toBe('/admin');
    expect(norm('/a%20b%7e')).toBe('/a%20b~');
    expect(norm('/x%c3%a9')).toBe('/x%C3%A9');
  });

  it('refuses what servers read differently: encoded separators, backslash, semicolon, fragment, bad escapes', () => {
    for (const p of ['/a%2Fb', '/a%2fb', '/a%5Cb', '/a%00', '/a\\b', '/admin;x=1', '/..;/admin', '/a#b', '/a%zz', '/a%4']) {
      expect(norm(p), p).toMatch(/^400 /);
    }
  });
});
