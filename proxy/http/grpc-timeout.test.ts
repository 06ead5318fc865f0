import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS, parseGrpcTimeout } from './grpc-timeout.ts';

describe('parseGrpcTimeout', () => {
  it.each([
    ['100m', 100],
    ['5S', 5000],
    ['2M', 120_000],
    ['1H', 3_600_000],
    ['1500u', 2],
    ['10n', 1],
    ['99999999H', MAX_TIMER_MS],
  ])('%s -> %d ms', (v, ms) => expect(parseGrpcTimeout(v)).toBe(ms));
  it.each(['', '100', 'm', '1x', '123456789S', '-1S', '1.5S'])('ignores malformed %j', (v) => expect(parseGrpcTimeout(v)).toBeNull());
});
