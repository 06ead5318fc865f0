// The callgrind dump reader: own instructions per function, a call's inclusive cost kept out, JIT code named from a perf map.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kindOf, lookup, readPerfMap, selfCosts } from './callgrind-out.ts';

// Two functions with compressed names, one calling the other (the cost line after calls= is inclusive), and JIT code.
const DUMP = `version: 1
events: Ir
summary: 1160
ob=(1) /node
fl=(1) ???
fn=(1) main
0 100
cfn=(2) helper
calls=3 0
0 900
0 10
fn=(2)
0 50
fn=(3) 0x0000000000001010
0 100
`;

describe('callgrind-out', () => {
  it('counts own instructions only and names JIT code from the perf map', () => {
    const dir = mkdtempSync(join(tmpdir(), 'callgrind-out-'));
    try {
      writeFileSync(join(dir, 'perf.map'), '1000 40 JS:*handler file.js:1\n2000 10 JS:*other file.js:9\n');
      const map = readPerfMap(join(dir, 'perf.map'));
      expect(lookup(map, 0x103f)).toBe('JS:*handler file.js:1');
      expect(lookup(map, 0x1040)).toBeNull();
      expect(selfCosts(DUMP, map)).toEqual([{ fn: 'main', ir: 110 }, { fn: 'JS:*handler file.js:1', ir: 100 }, { fn: 'helper', ir: 50 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sorts functions into the collector, the compilers, JIT code, builtins and the rest', () => {
    expect(kindOf('v8::internal::Scavenger::Process(v8::JobDelegate*)')).toBe('gc');
    expect(kindOf('v8::internal::compiler::GraphReducer::ReduceTop()')).toBe('compiler');
    expect(kindOf('(unknown code)')).toBe('js');
    expect(kindOf('Builtins_LoadIC')).toBe('builtins');
    expect(kindOf('uv__hrtime')).toBe('other');
  });
});
