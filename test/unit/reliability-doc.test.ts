// docs/reliability.md's limits table must show the defaults the code applies.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../api/config/proxy-config-defaults.ts';

describe('docs/reliability.md agrees with the code', () => {
  it('the limits table lists every limit with its sidecar and ingress default', () => {
    const md = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'reliability.md'), 'utf8');
    const table = md.split('<!-- limits-table:start -->')[1]!.split('<!-- limits-table:end -->')[0]!;
    const rows = table
      .trim()
      .split('\n')
      .slice(2)
      .map((l) => l.split('|').slice(1, 4).map((c) => c.trim().replace(/`/g, '')));
    const expected = Object.keys(DEFAULT_LIMITS.sidecar).map((k) => {
      const key = k as keyof typeof DEFAULT_LIMITS.sidecar;
      return [k, String(DEFAULT_LIMITS.sidecar[key]), String(DEFAULT_LIMITS.ingress[key])];
    });
    expect(rows.map((r) => r[0]).sort()).toEqual(expected.map((r) => r[0]).sort());
    for (const row of rows) expect(row).toEqual(expected.find((e) => e[0] === row[0]));
  });
});
