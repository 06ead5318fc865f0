// Config files: a plain JSON file is read without the YAML parser and gives exactly the document the YAML parser gives.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from './cli-error.ts';
import { loadConfigDocument, parsePlainJson } from './load-config-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'skein-config-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const load = (text: string): Promise<unknown> => {
  const file = join(dir, `c${n++}.json`);
  writeFileSync(file, text);
  return loadConfigDocument(file);
};
const yaml = (text: string): unknown => parseYaml(text, { maxAliasCount: 100, uniqueKeys: true });

const jsonTexts = [
  JSON.stringify({ listeners: [{ name: 'l', port: 15001, virtualHosts: [{ name: 'v', routes: [] }] }], clusters: [] }, null, 2),
  '{"__proto__": {"a": 1}, "b": 2}',
  '{"<<": {"a": 1}, "c": "&anchor *alias !tag % #no comment", "k": "a: b", "l": "- x", "m": "? q"}',
  '[12345678901234567890, -0, 1e400, 1.5e-7, 0.1, 1E2, -1.0e+2, 0]',
  '"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\\\ \\"q\\" \\ud800"',
  '{"a":[],"b":{},"c":null,"d":true,"e":false,"f":"","":1}',
  '{\r\n  "a" : 1 ,\r\n"b":[1,2]}',
  '{\n\t"a": [\n\t\t1\n\t], "nested": {"a": {"a": [{"a": 1}, {"a": 2}]}}\n}',
  '  {"x":"y"}  ',
  '{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}], "d": "a", "e": ["a", "a"]}',
];

describe('loadConfigDocument', () => {
  it('reads plain JSON without the YAML parser, into the same document the YAML parser builds', async () => {
    for (const text of jsonTexts) {
      expect(parsePlainJson(text), text).not.toBeNull();
      const doc = await load(text);
      expect(doc, text).toStrictEqual(yaml(text));
      if (doc && typeof doc === 'object' && !Array.isArray(doc)) expect(Object.keys(doc)).toEqual(Object.keys(yaml(text) as object));
    }
    const proto = (await load('{"__proto__": {"polluted": 1}}')) as Record<string, unknown>;
    expect(Object.hasOwn(proto, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
  });

  it('leaves YAML, non-ASCII text and repeated keys to the YAML parser (same documents and errors as before)', async () => {
    for (const text of ['listeners: []\nclusters: []\n', '{"a": "é"}', '\ufeff{"a": 1}', '# c\n{"a": 1}', '']) {
      expect(parsePlainJson(text), text).toBeNull();
      expect(await load(text)).toStrictEqual(yaml(text));
    }
    for (const text of ['{"a": 1, "a": 2}', '{"x": {"b": [1], "b": 2}}', '{"a": "\\u0062", "\\u0061": 1}']) {
      expect(parsePlainJson(text), text).toBeNull();
      await expect(load(text)).rejects.toThrow(/not valid YAML\/JSON: Map keys must be unique/);
    }
    await expect(load('{"a": ')).rejects.toThrow(CliError);
    await expect(load('{"a": ')).rejects.toThrow(/c\d+\.json:1:\d+: not valid YAML\/JSON: /);
  });
});
