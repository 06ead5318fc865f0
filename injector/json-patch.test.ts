// The JSON Patch applier agrees with RFC 6902 on the operations the injector emits, and never mutates its input.
import { describe, expect, it } from 'vitest';
import { applyJsonPatch, escapePointerToken } from './json-patch.ts';

describe('applyJsonPatch', () => {
  it('adds into objects and arrays (index, "-"), replaces and removes', () => {
    const doc = { a: { b: [1, 3] }, m: { 'x/y': 1 } };
    const r = applyJsonPatch(doc, [
      { op: 'add', path: '/a/b/1', value: 2 },
      { op: 'add', path: '/a/b/-', value: 4 },
      { op: 'add', path: '/a/c', value: 'new' },
      { op: 'replace', path: `/m/${escapePointerToken('x/y')}`, value: 2 },
      { op: 'remove', path: '/a/b/0' },
    ]);
    expect(r.ok && r.value).toEqual({ a: { b: [2, 3, 4], c: 'new' }, m: { 'x/y': 2 } });
    expect(doc).toEqual({ a: { b: [1, 3] }, m: { 'x/y': 1 } });
  });
  it('add on an existing member replaces it (RFC 6902 4.1)', () => {
    const r = applyJsonPatch({ a: 1 }, [{ op: 'add', path: '/a', value: 2 }]);
    expect(r.ok && r.value).toEqual({ a: 2 });
  });
  it('reports errors instead of throwing', () => {
    expect(applyJsonPatch({ a: [] }, [{ op: 'add', path: '/a/5', value: 1 }]).ok).toBe(false);
    expect(applyJsonPatch({}, [{ op: 'replace', path: '/missing', value: 1 }]).ok).toBe(false);
    expect(applyJsonPatch({ a: 1 }, [{ op: 'add', path: '/a/b', value: 1 }]).ok).toBe(false);
    expect(applyJsonPatch({}, [{ op: 'add', path: 'no-slash', value: 1 }]).ok).toBe(false);
  });
  it('a "__proto__" key stays an own property', () => {
    const r = applyJsonPatch({}, [{ op: 'add', path: '/__proto__', value: { polluted: true } }]);
    expect(r.ok && Object.prototype.hasOwnProperty.call(r.value, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
