// Writes docs/proxy-config.schema.json from the schema in api/ (npm run gen:schema); a test fails when it is stale.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { proxyConfigSchema } from '../api/config/proxy-config-schema.ts';

export const SCHEMA_FILE = join(import.meta.dirname, '..', 'docs', 'proxy-config.schema.json');
export const schemaText = (): string => JSON.stringify(proxyConfigSchema, null, 2) + '\n';

if (process.argv[1] === import.meta.filename) {
  writeFileSync(SCHEMA_FILE, schemaText());
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
