// Writes a plain-JS copy of the long-running commands' module graph (`skein proxy`, `skein injector`, `skein control-plane`) to .cache/js/, so
// those processes start without Node's in-process TypeScript stripper (~17 MB RSS). `npm run build:js`; bin/skein.mjs
// also runs it when the copy is stale, and uses the copy only while every source still hashes as recorded.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin, stripTypeScriptTypes } from 'node:module';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

export const REPO_ROOT = resolve(import.meta.dirname, '..');
/** Must match bin/skein.mjs: the folder, the manifest name and the manifest format version. */
export const JS_CACHE_DIR = '.cache/js';
export const MANIFEST = 'current.json';
const FORMAT = 1;

/** The commands whose processes run for the life of a pod; their graphs (and only theirs) are built. */
export const JS_COMMANDS = ['proxy', 'injector', 'control-plane'] as const;
const ENTRY = 'cli/main.ts';
/** A build folder other than the current one is deleted once older than this (processes import their graph at start-up). */
const KEEP_OLD_MS = 60 * 60 * 1000;

export interface JsManifest {
  readonly format: number;
  /** Folder under .cache/js holding this build (named by the hash of its inputs). */
  readonly dir: string;
  /** sha256 of every input file (repo-relative, `/` separated): the sources, copied assets and this script. */
  readonly files: Readonly<Record<string, string>>;
}

export interface BuildResult {
  readonly manifest: JsManifest;
  /** Absolute path of the built cli/main.js. */
  readonly entry: string;
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
const toPosix = (p: string): string => p.split(sep).join('/');

/** Relative module specifiers in JS source, with the offset of each specifier's text (after the opening quote). */
function relativeSpecifiers(js: string, file: string): { spec: string; at: number; dynamic: boolean }[] {
  const out: { spec: string; at: number; dynamic: boolean }[] = [];
  // TypeScript's pre-processor finds import/export declarations and literal import() calls, skipping strings and comments.
  for (const ref of ts.preProcessFile(js, true, true).importedFiles) {
    if (!ref.fileName.startsWith('./') && !ref.fileName.startsWith('../')) continue;
    const at = ref.pos + 1;
    if (!`'"`.includes(js[ref.pos] ?? '') || js.slice(at, at + ref.fileName.length) !== ref.fileName) {
      throw new Error(`${file}: cannot locate the specifier ${ref.fileName} at offset ${ref.pos}`);
    }
    out.push({ spec: ref.fileName, at, dynamic: js.slice(Math.max(0, ref.pos - 8), ref.pos).replace(/\s/g, '').endsWith('import(') });
  }
  return out;
}

/**
 * `import x from 'node:http'` becomes `const x = process.getBuiltinModule('node:http')` (named imports a destructuring).
 * The same object either way, but an ESM import of a builtin builds its module namespace by reading every export, and
 * node:http's lazy `WebSocket` getter then loads undici, zlib and worker_threads: ~13 MB RSS for nothing. Line breaks
 * are kept, so positions in stack traces still match the sources. Namespace and bare imports are left as they are.
 */
export function builtinImportsToGetBuiltin(js: string, file: string): string {
  const sf = ts.createSourceFile(file, js, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  let out = '';
  let from = 0;
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier) || !isBuiltin(st.moduleSpecifier.text)) continue;
    const clause = st.importClause;
    if (!clause || clause.isTypeOnly || st.attributes) continue;
    const named = clause.namedBindings;
    if (named && !ts.isNamedImports(named)) continue;
    const load = `process.getBuiltinModule(${JSON.stringify(st.moduleSpecifier.text)})`;
    const names = named?.elements.map((e) => (e.propertyName ? `${e.propertyName.getText(sf)}: ${e.name.text}` : e.name.text));
    const pattern = names ? (names.length > 0 ? `{ ${names.join(', ')} }` : '{}') : null;
    let decl: string;
    if (clause.name && pattern) decl = `const ${clause.name.text} = ${load}, ${pattern} = ${clause.name.text};`;
    else if (clause.name) decl = `const ${clause.name.text} = ${load};`;
    else decl = `const ${pattern ?? '{}'} = ${load};`;
    const start = st.getStart(sf);
    const text = js.slice(start, st.end);
    out += js.slice(from, start) + decl + '\n'.repeat(text.split('\n').length - 1);
    from = st.end;
  }
  return out + js.slice(from);
}

/**
 * Walks the graph from `entries` (cli/main.ts for the copy): static imports always, dynamic imports too except main's
 * lazy imports of commands that do not run from the copy. Returns the stripped JS of each module (`.ts` specifiers
 * rewritten to `.js`) and the non-TS files next to modules that locate files through import.meta (the proxy's native
 * addon source, for one).
 */
function collect(root: string, entries: readonly string[] = [ENTRY]): { modules: Map<string, string>; assets: Set<string> } {
  const modules = new Map<string, string>();
  const assets = new Set<string>();
  const wanted = new Set(JS_COMMANDS.map((c) => `cli/commands/${c}.ts`));
  const queue = [...entries];
  while (queue.length > 0) {
    const rel = queue.shift()!;
    if (modules.has(rel)) continue;
    const source = readFileSync(join(root, rel), 'utf8');
    let js = builtinImportsToGetBuiltin(stripTypeScriptTypes(source, { mode: 'strip' }), rel);
    for (const { spec, at, dynamic } of relativeSpecifiers(js, rel)) {
      const target = posix.normalize(posix.join(posix.dirname(rel), spec));
      if (target.startsWith('../')) throw new Error(`${rel}: ${spec} is outside the repository`);
      if (spec.endsWith('.ts')) js = `${js.slice(0, at + spec.length - 3)}.js${js.slice(at + spec.length)}`;
      if (rel === ENTRY && dynamic && !wanted.has(target)) continue;
      if (spec.endsWith('.ts')) queue.push(target);
      else assets.add(target);
    }
    if (/\bimport\.meta\.(?:dirname|url|filename)\b/.test(js)) {
      const dir = posix.dirname(rel);
      for (const name of readdirSync(join(root, dir))) {
        if (!name.endsWith('.ts') && statSync(join(root, dir, name)).isFile()) assets.add(posix.join(dir, name));
      }
    }
    modules.set(rel, js);
  }
  return { modules, assets };
}

/** Builds the copy (if this exact one is not there yet), points the manifest at it and prunes old copies. */
export function buildJs(root = REPO_ROOT): BuildResult {
  const cache = join(root, JS_CACHE_DIR);
  const { modules, assets } = collect(root);
  const { files, dir } = hashInputs(root, modules, assets);
  const out = join(cache, dir);
  writeOnce(root, out, modules, assets);
  const manifest: JsManifest = { format: FORMAT, dir, files };
  const tmpManifest = join(cache, `${MANIFEST}.tmp-${process.pid}`);
  writeFileSync(tmpManifest, `${JSON.stringify(manifest, null, 1)}\n`);
  renameSync(tmpManifest, join(cache, MANIFEST));
  prune(cache, dir);
  return { manifest, entry: join(out, 'cli', 'main.js') };
}

/** The sha256 of every input (the sources, copied assets and this script), and the copy's folder name, a hash of them all. */
function hashInputs(root: string, modules: ReadonlyMap<string, string>, assets: ReadonlySet<string>): { files: Record<string, string>; dir: string } {
  const files: Record<string, string> = {};
  const inputs = [...modules.keys(), ...assets, toPosix(relative(root, import.meta.filename))].sort();
  for (const rel of inputs) files[rel] = sha256(readFileSync(join(root, rel)));
  return { files, dir: sha256(JSON.stringify({ FORMAT, files, node: process.version })).slice(0, 16) };
}

/** Writes the modules and assets to `out` unless it exists: aside, then renamed in place, so nobody sees half a copy. */
function writeOnce(root: string, out: string, modules: ReadonlyMap<string, string>, assets: ReadonlySet<string>): void {
  if (existsSync(out)) return;
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (const [rel, js] of modules) {
    const file = join(tmp, rel.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, js);
  }
  for (const rel of assets) {
    mkdirSync(dirname(join(tmp, rel)), { recursive: true });
    copyFileSync(join(root, rel), join(tmp, rel));
  }
  try {
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(out)) throw e;
  }
}

/**
 * A plain-JS copy of the graph of other entry modules (repo-relative `.ts` paths), in a folder of its own under
 * .cache/ named by its inputs (inside the repository, so that packages resolve from node_modules as from the sources).
 * For processes measured as they run in a pod: bench/config-push.ts's control-plane half. Returns the copy's root;
 * entry `a/b.ts` is `<root>/a/b.js`.
 */
export function buildJsGraph(entries: readonly string[], root = REPO_ROOT): string {
  const { modules, assets } = collect(root, entries);
  const { dir } = hashInputs(root, modules, assets);
  const cache = join(root, '.cache', 'js-graphs');
  mkdirSync(cache, { recursive: true });
  const out = join(cache, dir);
  writeOnce(root, out, modules, assets);
  prune(cache, dir);
  return out;
}

function prune(cache: string, current: string): void {
  const now = Date.now();
  for (const name of readdirSync(cache)) {
    if (name === current || name === MANIFEST || name.startsWith('.')) continue;
    try {
      if (now - statSync(join(cache, name)).mtimeMs > KEEP_OLD_MS) rmSync(join(cache, name), { recursive: true, force: true });
    } catch {}
  }
}

if (process.argv[1] === import.meta.filename) {
  const { manifest, entry } = buildJs();
  process.stdout.write(`build:js: ${Object.keys(manifest.files).length} inputs -> ${relative(REPO_ROOT, dirname(dirname(entry)))}\n`);
}
