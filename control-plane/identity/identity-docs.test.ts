// docs/identity.md's refusal table lists exactly the catalogue: reason, gRPC status name, code and meaning, in order.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { IDENTITY_REJECTIONS } from './identity-rejection.ts';

it('docs/identity.md lists every identity refusal with its status and code', () => {
  const md = readFileSync(join(import.meta.dirname, '../../docs/identity.md'), 'utf8');
  const table = md.split('<!-- identity-rejections:start -->')[1]!.split('<!-- identity-rejections:end -->')[0]!;
  const rows = table.trim().split('\n').slice(2).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  const expected = Object.entries(IDENTITY_REJECTIONS).map(([reason, r]) => [reason, GrpcStatus[r.status], r.code, r.about]);
  expect(rows).toEqual(expected);
});
