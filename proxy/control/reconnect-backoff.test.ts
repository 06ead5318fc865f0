// Reconnect delays: exponential, capped, fully jittered, never zero.
import { describe, expect, it } from 'vitest';
import { reconnectDelayMs } from './reconnect-backoff.ts';

describe('reconnectDelayMs', () => {
  const opts = { baseMs: 500, capMs: 30_000 };
  it('doubles the ceiling per attempt up to the cap', () => {
    expect([0, 1, 2, 3].map((a) => reconnectDelayMs(a, () => 0.999999, opts))).toEqual([500, 1000, 2000, 4000]);
    expect(reconnectDelayMs(20, () => 0.999999, opts)).toBe(30_000);
    expect(reconnectDelayMs(1e9, () => 0.999999, opts)).toBe(30_000);
  });
  it('spreads attempts over 10%..100% of the ceiling', () => {
    expect(reconnectDelayMs(3, () => 0, opts)).toBe(400);
    expect(reconnectDelayMs(3, () => 0.5, opts)).toBe(2200);
  });
});
