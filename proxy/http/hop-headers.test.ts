// Route header mutations (Gateway API RequestHeaderModifier / ResponseHeaderModifier semantics): remove, then set, then add.
import { describe, expect, it } from 'vitest';
import { applyHeaderMutation, type HeaderBag } from './hop-headers.ts';

const bag = (h: Record<string, string | string[]>): HeaderBag => Object.assign(Object.create(null) as HeaderBag, h);

describe('applyHeaderMutation', () => {
  it('adds to an existing value as one comma-joined value, as Gateway API specifies (my-header: foo,bar)', () => {
    const h = bag({ 'x-header-add': 'original-val-add' });
    applyHeaderMutation(h, { set: {}, add: { 'x-header-add': 'header-add', 'x-new': 'n' }, remove: [] });
    expect(h['x-header-add']).toBe('original-val-add,header-add');
    expect(h['x-new']).toBe('n');
  });

  it('adds a separate line to a field kept as lines (set-cookie)', () => {
    const h = bag({ 'set-cookie': ['a=1'] });
    applyHeaderMutation(h, { set: {}, add: { 'set-cookie': 'b=2' }, remove: [] });
    expect(h['set-cookie']).toEqual(['a=1', 'b=2']);
  });

  it('removes, then sets (overwriting), then adds', () => {
    const h = bag({ 'x-gone': 'v', 'x-set': 'old', keep: 'k' });
    applyHeaderMutation(h, { set: { 'x-set': 'new', 'x-gone': 'back' }, add: { 'x-set': 'more' }, remove: ['x-gone'] });
    expect({ ...h }).toEqual({ 'x-set': 'new,more', 'x-gone': 'back', keep: 'k' });
  });
});
