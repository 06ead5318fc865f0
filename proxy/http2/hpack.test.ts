// HPACK against RFC 7541 Appendix C (the vectors as golang.org/x/net/http2/hpack's tests carry them), Huffman, and encoder round trips.
import { describe, expect, it } from 'vitest';
import { encodeTrailers } from './field-encoding.ts';
import { HpackDecoder, HpackError } from './hpack-decoder.ts';
import { HpackEncoder } from './hpack-encoder.ts';
import { huffmanDecode, huffmanEncode, huffmanLength } from './huffman.ts';

const SERIES: readonly { name: string; size: number; steps: { hex: string; fields: [string, string][]; tableSize: number; tableLen: number }[] }[] = [
  {
    "name": "C3_NoHuffman",
    "size": 4096,
    "steps": [
      {
        "hex": "828684410f7777772e6578616d706c652e636f6d",
        "fields": [
          [
            ":method",
            "GET"
          ],
          [
            ":scheme",
            "http"
          ],
          [
            ":path",
            "/"
          ],
          [
            ":authority",
            "www.example.com"
          ]
        ],
        "tableSize": 57,
        "tableLen": 1
      },
      {
        "hex": "828684be58086e6f2d6361636865",
        "fields": [
          [
            ":method",
            "GET"
          ],
          [
            ":scheme",
            "http"
          ],
          [
            ":path",
            "/"
          ],
          [
            ":authority",
            "www.example.com"
          ],
          [
            "cache-control",
            "no-cache"
          ]
        ],
        "tableSize": 110,
        "tableLen": 2
      },
      {
        "hex": "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
        "fields": [
          [
            ":method",
            "GET"
          ],
          [
            ":scheme",
            "https"
          ],
          [
            ":path",
            "/index.html"
          ],
          [
            ":authority",
            "www.example.com"
          ],
          [
            "custom-key",
            "custom-value"
          ]
        ],
        "tableSize": 164,
        "tableLen": 3
      }
    ]
  },
  {
    "name": "C4_Huffman",
    "size": 4096,
    "steps": [
      {
        "hex": "828684418cf1e3c2e5f23a6ba0ab90f4ff",
        "fields": [
          [
            ":method",
            "GET"
          ],
          [
            ":scheme",
            "http"
          ],
          [
            ":path",
            "/"
          ],
          [
            ":authority",
            "www.example.com"
          ]
        ],
        "tableSize": 57,
        "tableLen": 1
      },
      {
        "hex": "828684be5886a8eb10649cbf",
        "fields": [
          [
            ":method",
            "GET"
          ],
          [
            ":scheme",
            "http"
          ],
          [
            ":path",
            "/"
          ],
          [
            ":authority",
            "www.example.com"
          ],
          [
            "cache-control",
            "no-cache"
          ]
        ],
        "tableSize": 110,
        "tableLen": 2
      },
      {
        "hex": "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        "fields": [
          [
            ":method",
            "GET"
          ],
          [
            ":scheme",
            "https"
          ],
          [
            ":path",
            "/index.html"
          ],
          [
            ":authority",
            "www.example.com"
          ],
          [
            "custom-key",
            "custom-value"
          ]
        ],
        "tableSize": 164,
        "tableLen": 3
      }
    ]
  },
  {
    "name": "C5_ResponsesNoHuff",
    "size": 256,
    "steps": [
      {
        "hex": "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
        "fields": [
          [
            ":status",
            "302"
          ],
          [
            "cache-control",
            "private"
          ],
          [
            "date",
            "Mon, 21 Oct 2013 20:13:21 GMT"
          ],
          [
            "location",
            "https://www.example.com"
          ]
        ],
        "tableSize": 222,
        "tableLen": 4
      },
      {
        "hex": "4803333037c1c0bf",
        "fields": [
          [
            ":status",
            "307"
          ],
          [
            "cache-control",
            "private"
          ],
          [
            "date",
            "Mon, 21 Oct 2013 20:13:21 GMT"
          ],
          [
            "location",
            "https://www.example.com"
          ]
        ],
        "tableSize": 222,
        "tableLen": 4
      },
      {
        "hex": "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
        "fields": [
          [
            ":status",
            "200"
          ],
          [
            "cache-control",
            "private"
          ],
          [
            "date",
            "Mon, 21 Oct 2013 20:13:22 GMT"
          ],
          [
            "location",
            "https://www.example.com"
          ],
          [
            "content-encoding",
            "gzip"
          ],
          [
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
          ]
        ],
        "tableSize": 215,
        "tableLen": 3
      }
    ]
  },
  {
    "name": "C6_ResponsesHuffman",
    "size": 256,
    "steps": [
      {
        "hex": "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
        "fields": [
          [
            ":status",
            "302"
          ],
          [
            "cache-control",
            "private"
          ],
          [
            "date",
            "Mon, 21 Oct 2013 20:13:21 GMT"
          ],
          [
            "location",
            "https://www.example.com"
          ]
        ],
        "tableSize": 222,
        "tableLen": 4
      },
      {
        "hex": "4883640effc1c0bf",
        "fields": [
          [
            ":status",
            "307"
          ],
          [
            "cache-control",
            "private"
          ],
          [
            "date",
            "Mon, 21 Oct 2013 20:13:21 GMT"
          ],
          [
            "location",
            "https://www.example.com"
          ]
        ],
        "tableSize": 222,
        "tableLen": 4
      },
      {
        "hex": "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
        "fields": [
          [
            ":status",
            "200"
          ],
          [
            "cache-control",
            "private"
          ],
          [
            "date",
            "Mon, 21 Oct 2013 20:13:22 GMT"
          ],
          [
            "location",
            "https://www.example.com"
          ],
          [
            "content-encoding",
            "gzip"
          ],
          [
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
          ]
        ],
        "tableSize": 215,
        "tableLen": 3
      }
    ]
  }
];

const decodeAll = (d: HpackDecoder, block: Buffer): [string, string][] => {
  const out: [string, string][] = [];
  d.decode(block, (n, v) => out.push([n, v]));
  return out;
};

describe('HPACK decoder: RFC 7541 Appendix C', () => {
  for (const s of SERIES) {
    it(`${s.name}: each block decodes, the dynamic table has the RFC's size and entries`, () => {
      const d = new HpackDecoder(s.size);
      for (const step of s.steps) {
        expect(decodeAll(d, Buffer.from(step.hex, 'hex'))).toEqual(step.fields);
        expect(d.tableSize).toBe(step.tableSize);
        expect(d.tableLength).toBe(step.tableLen);
      }
    });
  }

  it.each([
    ['index 0', '80'],
    ['an index beyond both tables', 'ff00'],
    ['a truncated integer', '3fe1'],
    ['a string longer than the block', '400a6375'],
    ['Huffman padding longer than 7 bits', '40821fff0161'],
    ['Huffman padding that is not all ones', '4081180161'],
    ['a size update above the limit', '3fe21f'],
    ['a size update after a field', '823f00'],
  ])('refuses %s', (_what, hex) => {
    expect(() => new HpackDecoder(4096).decode(Buffer.from(hex, 'hex'), () => {})).toThrow(HpackError);
  });

  it.each([
    ['a truncated integer', '3fe1', '01'],
    ['a string longer than the block', '400a6375', '7374'],
    ['a literal with its value missing', '4003637573', '0161'],
  ])('decoding a range of a buffer, refuses %s even when the bytes after the range would complete it', (_what, hex, after) => {
    const buf = Buffer.from(`aaaa${hex}${after}`, 'hex');
    expect(() => new HpackDecoder(4096).decode(buf, () => {}, 2, 2 + hex.length / 2)).toThrow(HpackError);
  });

  it('decodes a range of a buffer, nothing before or after it', () => {
    const block = Buffer.from('828684410f7777772e6578616d706c652e636f6d', 'hex');
    const fields: [string, string][] = [];
    new HpackDecoder(4096).decode(Buffer.concat([Buffer.from('ff', 'hex'), block, Buffer.from('80', 'hex')]), (n, v) => fields.push([n, v]), 1, 1 + block.length);
    expect(fields).toEqual([[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
  });
});

describe('Huffman', () => {
  it('encodes the RFC examples exactly and decodes them back', () => {
    for (const [text, hex] of [
      ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
      ['no-cache', 'a8eb10649cbf'],
      ['custom-key', '25a849e95ba97d7f'],
      ['custom-value', '25a849e95bb8e8b4bf'],
      ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07abe941054d444a8200595040b8166e082a62d1bff'],
    ] as const) {
      const buf = Buffer.alloc(huffmanLength(text));
      expect(huffmanEncode(text, buf, 0)).toBe(buf.length);
      expect(buf.toString('hex')).toBe(hex);
      expect(huffmanDecode(buf, 0, buf.length)).toBe(text);
    }
  });

  it('round-trips every byte value', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
    for (const s of [all, all.split('').reverse().join(''), '\x00', '\xff\xfe', 'a']) {
      const buf = Buffer.alloc(huffmanLength(s));
      huffmanEncode(s, buf, 0);
      expect(huffmanDecode(buf, 0, buf.length)).toBe(s);
    }
  });

  it('refuses an encoded EOS', () => {
    expect(huffmanDecode(Buffer.from('ffffffff', 'hex'), 0, 4)).toBeNull();
  });
});

describe('HPACK encoder', () => {
  it('round-trips through the decoder over many blocks, the dynamic table reused and evicted', () => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder(4096);
    let firstLen = 0;
    for (let i = 0; i < 500; i++) {
      const fields: [string, string][] = [
        [':status', i % 3 === 0 ? '200' : '404'],
        ['content-type', 'application/grpc'],
        ['x-request-id', `id-${i}`],
        ['x-varied', `value-${i % 97}-${'z'.repeat(i % 50)}`],
        ['authorization', 'Bearer secret'],
        ['x-bin', '\x01\x7f\xff raw'],
      ];
      const block = enc.encode(fields);
      if (i === 0) firstLen = block.length;
      expect(decodeAll(dec, block)).toEqual(fields);
      if (i === 1) expect(block.length).toBeLessThan(firstLen);
    }
  });

  it('announces a smaller table at the start of the next block', () => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder(4096);
    decodeAll(dec, enc.encode([['x-a', 'one']]));
    enc.setMaxTableSize(0);
    const block = enc.encode([['x-a', 'one']]);
    expect(block[0]).toBe(0x20);
    expect(decodeAll(dec, block)).toEqual([['x-a', 'one']]);
    expect(dec.tableLength).toBe(0);
  });

  it('refuses a value with CR, LF or NUL, and after an abandoned block both tables agree again', () => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder(4096);
    decodeAll(dec, enc.encode([['x-kept', 'one'], ['x-other', 'two']]));
    for (const bad of ['a\rb', 'a\nb', 'a\x00b']) {
      enc.begin();
      expect(enc.field('x-new', 'added to our table only')).toBe(true);
      expect(enc.field('x-bad', bad)).toBe(false);
      enc.abandon();
      // The block is never sent; the next one empties the peer's table first, so its indexes mean the same on both sides.
      const block = enc.encode([['x-kept', 'one'], ['x-new', 'added to our table only']]);
      expect(block[0]).toBe(0x20);
      expect(decodeAll(dec, block)).toEqual([['x-kept', 'one'], ['x-new', 'added to our table only']]);
      expect(decodeAll(dec, enc.encode([['x-new', 'added to our table only']]))).toEqual([['x-new', 'added to our table only']]);
    }
    // A value found in a table is written as an index (it was checked on its way in).
    expect(enc.encode([['x-new', 'added to our table only']])).toHaveLength(1);
  });

  it('encodeTrailers: a trailer block that cannot be sent is refused and abandoned; one that can is whole', () => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder(4096);
    expect(encodeTrailers(enc, { 'grpc-status': '13', 'grpc-message': 'a\r\nx-forged: 1' })).toBe(false);
    // Abandoned: the next block starts by emptying the peer's table (a size update to 0).
    expect(encodeTrailers(enc, { 'grpc-status': '0', 'grpc-message': 'ok' })).toBe(true);
    const block = Buffer.from(enc.end());
    expect(block[0]).toBe(0x20);
    expect(decodeAll(dec, block)).toEqual([['grpc-status', '0'], ['grpc-message', 'ok']]);
  });
});
