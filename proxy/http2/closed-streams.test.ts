// The ring of recently closed streams: the newest entry for an id wins, and only the last N are remembered.
import { describe, expect, it } from 'vitest';
import { ClosedStreams } from './closed-streams.ts';

describe('ClosedStreams', () => {
  it('answers how a remembered stream closed, the newest entry first, and forgets streams past its size', () => {
    const c = new ClosedStreams(4);
    expect(c.get(1)).toBeUndefined();
    c.remember(1, 1);
    c.remember(3, 2);
    c.remember(3, 3);
    expect(c.get(1)).toBe(1);
    expect(c.get(3)).toBe(3);
    c.remember(5, 1);
    c.remember(7, 1);
    // Four entries since 1 was remembered: it is forgotten, the others are not.
    expect(c.get(1)).toBeUndefined();
    expect(c.get(3)).toBe(3);
    expect(c.get(7)).toBe(1);
    expect(c.get(0)).toBeUndefined();
  });
});
