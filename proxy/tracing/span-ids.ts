// Random trace and span ids, as hex, from a pooled buffer of crypto randomness (one randomFillSync per 512 ids, not per id).
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.alloc(4096);
let offset = POOL.length;

function hex(bytes: number): string {
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const s = POOL.toString('hex', offset, offset + bytes);
  offset += bytes;
  return s;
}

/** 16 hex digits, never all zero (the W3C invalid value). */
export function newSpanId(): string {
  let id = hex(8);
  while (id === '0000000000000000') id = hex(8);
  return id;
}

/** 32 hex digits, never all zero. */
export function newTraceId(): string {
  let id = hex(16);
  while (id === '00000000000000000000000000000000') id = hex(16);
  return id;
}
