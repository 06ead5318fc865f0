// Reads a YAML or JSON config file into a plain document (YAML is a superset of JSON, so one parser serves both).
import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { CliError } from './cli-error.ts';

export async function loadConfigDocument(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return parseYaml(text, { maxAliasCount: 100, uniqueKeys: true });
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const pos = e.linePos?.[0];
      throw new CliError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML/JSON: ${e.message.split('\n')[0]}`);
    }
    throw e;
  }
}
