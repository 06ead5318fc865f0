// Header blocks copied into the output's own buffer: what the socket gets, whatever the encoder does with its buffer after.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Flag, FrameReader, FrameType } from './frame-reader.ts';
import { FrameOutput } from './frame-output.ts';
import { dataFrameHeader } from './frame-writer.ts';

/** A socket that keeps what is written. */
function socket(): { s: Socket; written: Buffer[] } {
  const written: Buffer[] = [];
  const s = { destroyed: false, writable: true, writableLength: 0, write: (b: Buffer) => written.push(Buffer.from(b)), cork() {}, uncork() {} };
  return { s: s as unknown as Socket, written };
}

function frames(written: Buffer[]): { type: number; flags: number; id: number; payload: string }[] {
  const got: { type: number; flags: number; id: number; payload: string }[] = [];
  const r = new FrameReader({ onFrame: (type, flags, id, buf, start, end) => got.push({ type, flags, id, payload: buf.toString('utf8', start, end) }), onFrameTooLarge: () => {} });
  r.maxFrameSize = 1 << 20;
  r.push(Buffer.concat(written));
  return got;
}

describe('FrameOutput.headerBlock', () => {
  it('copies each block when queued: the source buffer may be rewritten before the flush', () => {
    const { s, written } = socket();
    const out = new FrameOutput(s, () => {});
    const src = Buffer.alloc(64);
    src.write('first-block');
    out.headerBlock(1, src, 11, false, 16_384);
    src.write('second');
    out.headerBlock(3, src, 6, true, 16_384);
    out.frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('body'));
    out.flush();
    expect(frames(written)).toEqual([
      { type: FrameType.HEADERS, flags: Flag.END_HEADERS, id: 1, payload: 'first-block' },
      { type: FrameType.HEADERS, flags: Flag.END_HEADERS | Flag.END_STREAM, id: 3, payload: 'second' },
      { type: FrameType.DATA, flags: Flag.END_STREAM, id: 1, payload: 'body' },
    ]);
  });

  it('keeps blocks queued before its buffer grew, and across flushes and large writes', () => {
    const { s, written } = socket();
    const out = new FrameOutput(s, () => {});
    const expected: string[] = [];
    for (let i = 0; i < 40; i++) {
      const text = `block-${i}-`.padEnd(100, String.fromCharCode(97 + (i % 26)));
      out.headerBlock(2 * i + 1, Buffer.from(text), text.length, false, 16_384);
      expected.push(text);
    }
    // Past the join limit: the blocks go out in runs around a large frame written by reference.
    out.queue(Buffer.concat([dataFrameHeader(5, 70_000, false), Buffer.alloc(70_000, 'z')]));
    out.headerBlock(101, Buffer.from('after'), 5, true, 16_384);
    out.flush();
    out.headerBlock(103, Buffer.from('next-flush'), 10, true, 16_384);
    out.flush();
    const got = frames(written);
    expect(got.map((f) => f.payload)).toEqual([...expected, 'z'.repeat(70_000), 'after', 'next-flush']);
    expect(got.map((f) => f.id)).toEqual([...expected.map((_, i) => 2 * i + 1), 5, 101, 103]);
  });

  it('sends a block larger than a frame as HEADERS and CONTINUATION', () => {
    const { s, written } = socket();
    const out = new FrameOutput(s, () => {});
    const src = Buffer.alloc(100, 'x');
    out.headerBlock(1, src, 100, true, 64);
    out.flush();
    expect(frames(written).map((f) => [f.type, f.flags, f.payload.length])).toEqual([
      [FrameType.HEADERS, Flag.END_STREAM, 64],
      [FrameType.CONTINUATION, Flag.END_HEADERS, 36],
    ]);
  });
});
