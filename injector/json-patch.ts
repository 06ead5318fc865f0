// RFC 6902 JSON Patch: the operations the injector emits and a small applier (copy-on-write; the input is never mutated).
import { err, ok, type Result } from '../api/result.ts';

export type JsonPatchOp =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/** Escapes one reference token of a JSON pointer ("skein.dev/inject" -> "skein.dev~1inject"). */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function parsePointer(path: string): string[] | null {
  if (path === '') return [];
  if (!path.startsWith('/')) return null;
  return path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(token: string, length: number, forAdd: boolean): number | null {
  if (forAdd && token === '-') return length;
  if (!/^(0|[1-9]\d*)$/.test(token)) return null;
  const i = Number(token);
  return i < length || (forAdd && i === length) ? i : null;
}

function applyOne(node: unknown, tokens: readonly string[], depth: number, op: JsonPatchOp): Result<unknown, string> {
  const token = tokens[depth]!;
  const last = depth === tokens.length - 1;
  if (Array.isArray(node)) {
    const i = arrayIndex(token, node.length, last && op.op === 'add');
    if (i === null) return err(`array index "${token}" out of range`);
    const copy = node.slice();
    if (!last) {
      const r = applyOne(copy[i], tokens, depth + 1, op);
      if (!r.ok) return r;
      copy[i] = r.value;
    } else if (op.op === 'add') copy.splice(i, 0, op.value);
    else if (op.op === 'replace') copy[i] = op.value;
    else copy.splice(i, 1);
    return ok(copy);
  }
  if (typeof node === 'object' && node !== null) {
    const obj = node as Record<string, unknown>;
    const has = Object.prototype.hasOwnProperty.call(obj, token);
    const copy: Record<string, unknown> = { ...obj };
    if (!last) {
      if (!has) return err(`path segment "${token}" does not exist`);
      const r = applyOne(obj[token], tokens, depth + 1, op);
      if (!r.ok) return r;
      copy[token] = r.value;
    } else if (op.op === 'add') {
      Object.defineProperty(copy, token, { value: op.value, enumerable: true, writable: true, configurable: true });
    } else {
      if (!has) return err(`path segment "${token}" does not exist`);
      if (op.op === 'replace') copy[token] = op.value;
      else delete copy[token];
    }
    return ok(copy);
  }
  return err(`cannot descend into a ${node === null ? 'null' : typeof node} at "${token}"`);
}

export function applyJsonPatch(doc: unknown, ops: readonly JsonPatchOp[]): Result<unknown, string> {
  let current = doc;
  for (const op of ops) {
    const tokens = parsePointer(op.path);
    if (tokens === null) return err(`invalid JSON pointer "${op.path}"`);
    if (tokens.length === 0) {
      if (op.op === 'remove') return err('cannot remove the document root');
      current = op.value;
      continue;
    }
    const r = applyOne(current, tokens, 0, op);
    if (!r.ok) return err(`${op.op} ${op.path}: ${r.error}`);
    current = r.value;
  }
  return ok(current);
}
