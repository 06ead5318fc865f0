// The published schema and the documented error catalogue must match the code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../proxy/errors/proxy-error.ts';
import { SCHEMA_FILE, schemaText } from '../../scripts/gen-schema.ts';

const docs = join(import.meta.dirname, '..', '..', 'docs');

describe('docs agree with the code', () => {
  it('docs/proxy-config.schema.json is current (run npm run gen:schema)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(schemaText());
  });

  it('the error table in docs/proxy-config.md lists exactly the catalogue', () => {
    const md = readFileSync(join(docs, 'proxy-config.md'), 'utf8');
    const table = md.split('<!-- errors-table:start -->')[1]!.split('<!-- errors-table:end -->')[0]!;
    const rows = table.trim().split('\n').slice(2).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    const expected = Object.values(ERRORS).map((e) => [e.code, String(e.status), String(e.grpcStatus), e.cause, e.closeConnection ? 'yes' : 'no']);
    expect(rows).toEqual(expected);
  });
});
