import { describe, expect, it } from 'vitest';
import { requestId } from './request-id.ts';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestId', () => {
  it('makes version 4 UUIDs, all different, across refills of its random bytes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = requestId();
      expect(id).toMatch(UUID_V4);
      seen.add(id);
    }
    expect(seen.size).toBe(1000);
  });

  it('uses every hex digit in the random positions (the bytes are random, not a pattern)', () => {
    const digits = new Set<string>();
    for (let i = 0; i < 200; i++) for (const c of requestId().replaceAll('-', '').slice(0, 12)) digits.add(c);
    expect(digits.size).toBe(16);
  });
});
