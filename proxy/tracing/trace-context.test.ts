// Propagation: every format read (W3C, B3 single, B3 multi, a lone B3 decision), both written, invalid input ignored.
import { describe, expect, it } from 'vitest';
import type { HeaderBag } from '../http/hop-headers.ts';
import { extractSamplingOnly, extractTraceParent, injectTraceContext, injectUnsampled, readB3Multi, readB3Single, readTraceparent } from './trace-context.ts';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('reading trace context', () => {
  it('W3C traceparent and tracestate, sampled or not', () => {
    expect(readTraceparent({ traceparent: `00-${T}-${S}-01`, tracestate: 'congo=t61rcWkgMzE' })).toEqual({ traceId: T, spanId: S, sampled: true, traceState: 'congo=t61rcWkgMzE' });
    expect(readTraceparent({ traceparent: `00-${T}-${S}-00` })?.sampled).toBe(false);
    // Flags other than sampled are ignored; a future version may carry more fields.
    expect(readTraceparent({ traceparent: `01-${T}-${S}-03-extra` })?.sampled).toBe(true);
  });

  it('ignores invalid traceparents (zero ids, version ff, bad lengths, upper case, extra fields on version 00)', () => {
    for (const tp of [
      `00-00000000000000000000000000000000-${S}-01`,
      `00-${T}-0000000000000000-01`,
      `ff-${T}-${S}-01`,
      `00-${T.slice(1)}-${S}-01`,
      `00-${T.toUpperCase()}-${S}-01`,
      `00-${T}-${S}-01-extra`,
      'garbage',
    ]) {
      expect(readTraceparent({ traceparent: tp }), tp).toBeNull();
    }
  });

  it('B3 single: ids with and without a decision, debug, a 64-bit trace id padded to 128', () => {
    expect(readB3Single({ b3: `${T}-${S}-1` })).toEqual({ traceId: T, spanId: S, sampled: true, traceState: null });
    expect(readB3Single({ b3: `${T}-${S}-0-${S}` })?.sampled).toBe(false);
    expect(readB3Single({ b3: `${T}-${S}-d` })?.sampled).toBe(true);
    expect(readB3Single({ b3: `${T}-${S}` })?.sampled).toBeNull();
    expect(readB3Single({ b3: `a3ce929d0e0e4736-${S}-1` })?.traceId).toBe('0000000000000000a3ce929d0e0e4736');
    expect(readB3Single({ b3: `${T}-${S}-x` })).toBeNull();
    expect(readB3Single({ b3: '0' })).toBeNull();
  });

  it('B3 multi: x-b3-traceid, x-b3-spanid, x-b3-sampled (1/0/true/false) and x-b3-flags debug', () => {
    expect(readB3Multi({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' })).toEqual({ traceId: T, spanId: S, sampled: true, traceState: null });
    expect(readB3Multi({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': 'false' })?.sampled).toBe(false);
    expect(readB3Multi({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '1' })?.sampled).toBe(true);
    expect(readB3Multi({ 'x-b3-traceid': T, 'x-b3-spanid': S })?.sampled).toBeNull();
    expect(readB3Multi({ 'x-b3-traceid': T })).toBeNull();
  });

  it('prefers W3C, then B3 single, then B3 multi; a lone decision counts without ids', () => {
    const other = 'a'.repeat(32);
    expect(extractTraceParent({ traceparent: `00-${T}-${S}-01`, b3: `${other}-${S}-0` })?.traceId).toBe(T);
    expect(extractTraceParent({ b3: `${T}-${S}-0`, 'x-b3-traceid': other, 'x-b3-spanid': S })?.traceId).toBe(T);
    expect(extractTraceParent({ 'x-b3-traceid': T, 'x-b3-spanid': S })?.traceId).toBe(T);
    expect(extractTraceParent({})).toBeNull();
    expect(extractSamplingOnly({ b3: '0' })).toBe(false);
    expect(extractSamplingOnly({ b3: 'd' })).toBe(true);
    expect(extractSamplingOnly({ 'x-b3-sampled': '1' })).toBe(true);
    expect(extractSamplingOnly({})).toBeNull();
  });
});

describe('writing trace context', () => {
  it('writes W3C and both B3 forms, each readable back to the same context', () => {
    const h: HeaderBag = Object.create(null);
    injectTraceContext(h, T, S, true, 'congo=t61rcWkgMzE', 'b7ad6b7169203331');
    expect(h).toEqual({
      traceparent: `00-${T}-${S}-01`,
      tracestate: 'congo=t61rcWkgMzE',
      b3: `${T}-${S}-1-b7ad6b7169203331`,
      'x-b3-traceid': T,
      'x-b3-spanid': S,
      'x-b3-parentspanid': 'b7ad6b7169203331',
      'x-b3-sampled': '1',
    });
    const expected = { traceId: T, spanId: S, sampled: true };
    expect(readTraceparent(h)).toMatchObject(expected);
    expect(readB3Single(h)).toMatchObject(expected);
    expect(readB3Multi(h)).toMatchObject(expected);
  });

  it('replaces whatever trace headers came in, so W3C and B3 never disagree downstream', () => {
    const h: HeaderBag = Object.assign(Object.create(null), { tracestate: 'old=1', 'x-b3-flags': '1', 'x-b3-parentspanid': 'ffffffffffffffff', b3: 'junk' });
    injectTraceContext(h, T, S, false, null, null);
    expect(h.tracestate).toBeUndefined();
    expect(h['x-b3-flags']).toBeUndefined();
    expect(h['x-b3-parentspanid']).toBeUndefined();
    expect(h.b3).toBe(`${T}-${S}-0`);
    expect(h.traceparent).toBe(`00-${T}-${S}-00`);
  });

  it('passes a decision not to sample on with the caller\'s W3C context as it came, and B3 as the bare decision', () => {
    const h: HeaderBag = Object.assign(Object.create(null), { traceparent: `00-${T}-${S}-00`, tracestate: 'congo=t61rcWkgMzE', 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '0' });
    injectUnsampled(h, null);
    expect({ ...h }).toEqual({ traceparent: `00-${T}-${S}-00`, tracestate: 'congo=t61rcWkgMzE', b3: '0', 'x-b3-sampled': '0' });
    // Every format reads back the same decision: not sampled.
    expect(readTraceparent(h)?.sampled).toBe(false);
    expect(readB3Single(h)).toBeNull();
    expect(extractSamplingOnly(h)).toBe(false);
  });

  it('writes the traceparent it is given for a new trace not sampled, dropping a stale tracestate', () => {
    const h: HeaderBag = Object.assign(Object.create(null), { tracestate: 'old=1', b3: `${T}-${S}` });
    injectUnsampled(h, `00-${T}-${S}-00`);
    expect({ ...h }).toEqual({ traceparent: `00-${T}-${S}-00`, b3: '0', 'x-b3-sampled': '0' });
  });
});
