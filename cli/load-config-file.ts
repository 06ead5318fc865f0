// Reads a YAML or JSON config file into a plain document (YAML is a superset of JSON, so one parser serves both).
import { readFile } from 'node:fs/promises';
import { CliError } from './cli-error.ts';

export async function loadConfigDocument(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const json = parsePlainJson(text);
  if (json) return json.value;
  // Loaded only here: its 72 modules made an idle `skein proxy` with a JSON config ~7 MB bigger.
  const { parse: parseYaml, YAMLParseError } = await import('yaml');
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

/**
 * The document, when the text is valid JSON in plain ASCII with no key repeated in an object: exactly what the YAML
 * parser returns for it (JSON is YAML 1.2; load-config-file.test.ts compares the two), without loading that parser.
 * Anything else (YAML, comments, a repeated key, which YAML refuses and JSON.parse would not) returns null.
 */
export function parsePlainJson(text: string): { readonly value: unknown } | null {
  if (!/^[\t\n\r\x20-\x7e]*$/.test(text)) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return hasRepeatedKey(text) ? null : { value };
}

/** In valid JSON text: does some object name a key twice? */
function hasRepeatedKey(json: string): boolean {
  // One entry per open object (its keys so far) or array (null).
  const open: (Set<string> | null)[] = [];
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{') open.push(new Set());
    else if (c === '[') open.push(null);
    else if (c === '}' || c === ']') open.pop();
    else if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const keys = open.at(-1);
      if (keys) {
        let next = end + 1;
        while (json[next] === ' ' || json[next] === '\t' || json[next] === '\n' || json[next] === '\r') next++;
        // A string followed by ':' is a key; the other strings in an object are values.
        if (json[next] === ':') {
          const key = JSON.parse(json.slice(i, end + 1)) as string;
          if (keys.has(key)) return true;
          keys.add(key);
        }
      }
      i = end;
    }
  }
  return false;
}
