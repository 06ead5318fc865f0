#!/usr/bin/env node
// Entry point of the `skein` command: makes sure it runs on Node 24 (the project's pinned runtime), then starts the CLI,
// from the plain-JS copy (scripts/build-js.ts) for the long-running pod commands, else from the TypeScript sources.
// Builtins through getBuiltinModule, not `import`: an ESM import of a builtin reads every export, and the lazy ones
// (fs.promises, crypto.webcrypto...) then load modules this process never uses (RSS). import() on a Node too old to have it.
const builtin = (id) => process.getBuiltinModule?.(id) ?? import(id);
const { spawnSync } = await builtin('node:child_process');
const { createHash } = await builtin('node:crypto');
const { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } = await builtin('node:fs');
const { dirname, join } = await builtin('node:path');
const { fileURLToPath, pathToFileURL } = await builtin('node:url');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  // The machine's Node is older: hand over to the pinned Node 24 from node_modules.
  const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    process.stderr.write('skein: Node 24 is required; run `npm install` in ' + root + ' first.\n');
    process.exit(1);
  }
  const r = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? (r.signal ? 128 : 1));
}

// V8 flags and environment of the long-running commands (bin/process-settings.mjs says which and why). Applied here, by
// re-executing this process with them (same pid, so the kubelet, the bench and the tests keep watching the right
// process), so that every way of launching `skein proxy` or `skein control-plane` gets them. SKEIN_PROXY_V8_FLAGS=0 (the
// proxy) and SKEIN_PROCESS_SETTINGS=0 (either) run without.
const { V8_FLAGS, ENV } = await import('./process-settings.mjs');
const command = process.argv[2];
const flags = V8_FLAGS[command] ?? [];
const env = ENV[command] ?? {};
const wanted = flags.some((f) => !process.execArgv.includes(f)) || Object.keys(env).some((k) => process.env[k] === undefined);
const refused = process.env.SKEIN_PROCESS_SETTINGS === '0' || (command === 'proxy' && process.env.SKEIN_PROXY_V8_FLAGS === '0');
if (Object.hasOwn(V8_FLAGS, command) && wanted && !refused && typeof process.execve === 'function') {
  // Ours first: a flag the caller gave (on the command line or in NODE_OPTIONS, which stays in the environment) wins, and
  // so does a variable the caller set.
  const argv = [process.execPath, ...flags, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  try {
    process.execve(process.execPath, argv, { ...env, ...process.env });
  } catch (e) {
    if (process.env.SKEIN_DEBUG) process.stderr.write(`skein: cannot apply ${flags.join(' ')}: ${e.message}\n`);
  }
}

// Must match scripts/build-js.ts (JS_COMMANDS, JS_CACHE_DIR, MANIFEST, the manifest format).
const JS_COMMANDS = new Set(['proxy', 'injector', 'control-plane']);
const cache = join(root, '.cache', 'js');
const debug = (msg) => { if (process.env.SKEIN_DEBUG) process.stderr.write(`skein: ${msg}\n`); };

/**
 * The built cli/main.js if the manifest's copy exists and every input (sources, assets, the build script) still has the
 * recorded sha256; otherwise null. Content hashes, not mtimes: a copy that disagrees with the sources never runs.
 */
function freshJsEntry() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(cache, 'current.json'), 'utf8'));
  } catch {
    return null;
  }
  if (manifest?.format !== 1 || typeof manifest.dir !== 'string' || typeof manifest.files !== 'object') return null;
  for (const [rel, sha] of Object.entries(manifest.files)) {
    let data;
    try {
      // Not path.join: module loading already calls path's normalizeString hundreds of times at start-up, and once V8
      // optimizes it with TurboFan, ~5 MB of the compiler's code in the node binary counts toward RSS.
      data = readFileSync(`${root}/${rel}`);
    } catch {
      return null;
    }
    if (createHash('sha256').update(data).digest('hex') !== sha) {
      debug(`plain-JS copy is stale (${rel} changed)`);
      return null;
    }
  }
  const entry = join(cache, manifest.dir, 'cli', 'main.js');
  return existsSync(entry) ? entry : null;
}

/**
 * Rebuilds the copy in a child process (the stripper's memory stays there) and returns the fresh entry, or null when
 * another process is building right now or the build fails (read-only checkout, no TypeScript): the sources run instead.
 */
function rebuiltJsEntry() {
  const lock = join(cache, '.build-lock');
  try {
    mkdirSync(cache, { recursive: true });
    try {
      mkdirSync(lock);
    } catch (e) {
      // A lock left by a build that died is taken over after two minutes; a live one means: run the sources this time.
      if (e.code !== 'EEXIST' || Date.now() - statSync(lock).mtimeMs < 120_000) return null;
      rmdirSync(lock);
      mkdirSync(lock);
    }
  } catch (e) {
    debug(`cannot build the plain-JS copy: ${e.message}`);
    return null;
  }
  try {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-js.ts')], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000, encoding: 'utf8' });
    if (r.status !== 0) debug(`plain-JS build failed: ${r.error?.message ?? r.stderr}`);
  } finally {
    try { rmdirSync(lock); } catch {}
  }
  return freshJsEntry();
}

// SKEIN_JS=0 runs the TypeScript sources even for the pod commands (to debug the build, or to compare).
let entry = null;
if (JS_COMMANDS.has(process.argv[2]) && process.env.SKEIN_JS !== '0') entry = freshJsEntry() ?? rebuiltJsEntry();
await import(entry ? pathToFileURL(entry).href : '../cli/main.ts');
