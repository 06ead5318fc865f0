// Header-block validation over the HPACK decoder: a field the peer refers to by index is checked as strictly as when it was sent whole.
import { describe, expect, it } from 'vitest';
import { HpackDecoder } from './hpack-decoder.ts';
import { HpackEncoder } from './hpack-encoder.ts';
import { FieldsVerdict, HeaderFields } from './header-fields.ts';

const HEAD: [string, string][] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a.test']];

/** One request block through a connection's decoder and fields: the verdict and the headers. */
function request(dec: HpackDecoder, fields: HeaderFields, block: Buffer): { verdict: FieldsVerdict; headers: Record<string, unknown> } {
  fields.begin(false);
  dec.decode(block, fields.sink);
  return { verdict: fields.finishRequest(), headers: { ...fields.headers } };
}

describe('HeaderFields over HPACK', () => {
  it('accepts a field the peer sends by index once it passed as a literal', () => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder();
    const fields = new HeaderFields(16_384, 100);
    const block: [string, string][] = [...HEAD, ['x-app', 'one'], ['user-agent', 'test/1']];
    expect(request(dec, fields, enc.encode(block))).toEqual({ verdict: FieldsVerdict.OK, headers: Object.fromEntries(block) });
    const again = enc.encode(block);
    // Every field an index now (the literals entered both tables).
    expect(again.length).toBeLessThan(block.length + 2);
    expect(request(dec, fields, again)).toEqual({ verdict: FieldsVerdict.OK, headers: Object.fromEntries(block) });
  });

  it('refuses a malformed field every time, also when the peer refers to it by index', () => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder();
    const fields = new HeaderFields(16_384, 100);
    for (const bad of [['X-Upper', 'v'], ['x-ctl', 'a\x01b'], ['connection', 'close'], ['te', 'gzip'], [':path', '/a\x7f']] as const) {
      const block: [string, string][] = [...HEAD.filter(([n]) => n !== bad[0]), [bad[0], bad[1]]];
      // The first time as a literal with indexing (into both tables), then as an index.
      expect(request(dec, fields, enc.encode(block)).verdict, `${bad[0]} literal`).toBe(FieldsVerdict.MALFORMED);
      expect(request(dec, fields, enc.encode(block)).verdict, `${bad[0]} indexed`).toBe(FieldsVerdict.MALFORMED);
    }
  });
});
