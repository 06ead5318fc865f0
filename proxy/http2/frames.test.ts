// Frame writer output read back by the frame reader: whole, byte by byte, and an over-long frame header refused.
import { describe, expect, it } from 'vitest';
import { Flag, FrameReader, FrameType } from './frame-reader.ts';
import { dataFrameHeader, goawayFrame, headersFrames, pingFrame, rstStreamFrame, settingsFrame, windowUpdateFrame } from './frame-writer.ts';

interface Got {
  type: number;
  flags: number;
  id: number;
  payload: string;
}

function reader(): { r: FrameReader; got: Got[]; tooLarge: number[] } {
  const got: Got[] = [];
  const tooLarge: number[] = [];
  const r = new FrameReader({
    onFrame: (type, flags, id, buf, start, end) => got.push({ type, flags, id, payload: buf.toString('hex', start, end) }),
    onFrameTooLarge: (_t, _id, len) => tooLarge.push(len),
  });
  return { r, got, tooLarge };
}

describe('frames', () => {
  const block = Buffer.alloc(40_000, 7);
  const wire = Buffer.concat([
    settingsFrame([
      [3, 100],
      [4, 65_535],
    ]),
    settingsFrame([], true),
    pingFrame(Buffer.from('12345678'), false),
    rstStreamFrame(3, 8),
    goawayFrame(5, 2, 'bye'),
    windowUpdateFrame(0, 1000),
    headersFrames(1, block, true, 16_384),
    dataFrameHeader(1, 3, true),
    Buffer.from('abc'),
  ]);
  const expected: Got[] = [
    { type: FrameType.SETTINGS, flags: 0, id: 0, payload: '000300000064000400' + '00ffff' },
    { type: FrameType.SETTINGS, flags: Flag.ACK, id: 0, payload: '' },
    { type: FrameType.PING, flags: 0, id: 0, payload: Buffer.from('12345678').toString('hex') },
    { type: FrameType.RST_STREAM, flags: 0, id: 3, payload: '00000008' },
    { type: FrameType.GOAWAY, flags: 0, id: 0, payload: '0000000500000002' + Buffer.from('bye').toString('hex') },
    { type: FrameType.WINDOW_UPDATE, flags: 0, id: 0, payload: '000003e8' },
    { type: FrameType.HEADERS, flags: Flag.END_STREAM, id: 1, payload: block.subarray(0, 16_384).toString('hex') },
    { type: FrameType.CONTINUATION, flags: 0, id: 1, payload: block.subarray(0, 16_384).toString('hex') },
    { type: FrameType.CONTINUATION, flags: Flag.END_HEADERS, id: 1, payload: block.subarray(0, 40_000 - 32_768).toString('hex') },
    { type: FrameType.DATA, flags: Flag.END_STREAM, id: 1, payload: Buffer.from('abc').toString('hex') },
  ];

  it('round-trip in one chunk', () => {
    const { r, got } = reader();
    r.push(wire);
    expect(got).toEqual(expected);
    expect(r.buffered).toBe(0);
  });

  it('round-trip one byte at a time', () => {
    const { r, got } = reader();
    for (let i = 0; i < wire.length; i++) r.push(wire.subarray(i, i + 1));
    expect(got).toEqual(expected);
  });

  it('a header announcing more than the max frame size stops the reader before its payload', () => {
    const { r, got, tooLarge } = reader();
    r.maxFrameSize = 16_384;
    r.push(Buffer.concat([dataFrameHeader(1, 16_385, false), Buffer.alloc(20), pingFrame(Buffer.alloc(8), false)]));
    expect(tooLarge).toEqual([16_385]);
    expect(got).toEqual([]);
  });
});
