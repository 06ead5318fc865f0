// The x-request-id the proxy gives a request that has none: a random (version 4) UUID, as crypto.randomUUID() makes.
import { randomFillSync } from 'node:crypto';

/** UUIDs per refill of the random bytes (what randomUUID's own cache holds too). */
const BATCH = 128;
const random = Buffer.allocUnsafeSlow(16 * BATCH);
let next = BATCH;
/** The id's text is written here and read out as one string. */
const text = Buffer.allocUnsafeSlow(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A new request id. randomUUID() joins its id from 20 short strings (about 600 bytes of garbage per id, the largest
 * single allocation of a proxied HTTP/2 request); this writes the 36 characters into a buffer and makes one string.
 */
export function requestId(): string {
  if (next === BATCH) {
    randomFillSync(random);
    next = 0;
  }
  const r = 16 * next++;
  let o = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[o++] = 0x2d; // '-'
    let b = random[r + i]!;
    if (i === 6) b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // variant 10 (RFC 9562)
    text[o++] = HEX[b >> 4]!;
    text[o++] = HEX[b & 0x0f]!;
  }
  return text.toString('latin1', 0, 36);
}
