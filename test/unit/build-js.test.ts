// scripts/build-js.ts and bin/skein.mjs: the pod commands run from the plain-JS copy, and never from a stale one.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JS_CACHE_DIR, MANIFEST, buildJsGraph, builtinImportsToGetBuiltin, type JsManifest } from '../../scripts/build-js.ts';

const repo = join(import.meta.dirname, '..', '..');
let root: string;
let hook: string;
let list: string;
let config: string;

beforeAll(() => {
  // A private copy of the sources, so edits and builds here never touch the real tree's cache.
  root = mkdtempSync(join(tmpdir(), 'skein-build-js-'));
  for (const top of ['api', 'proxy', 'cli', 'injector', 'control-plane', 'bin', 'scripts', 'package.json']) cpSync(join(repo, top), join(root, top), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
  hook = join(root, 'record-modules.mjs');
  list = join(root, 'modules.txt');
  writeFileSync(hook, [
    "import { registerHooks } from 'node:module';",
    "import { appendFileSync } from 'node:fs';",
    `registerHooks({ load(url, ctx, next) { if (url.startsWith('file:') && !url.includes('/node_modules/')) appendFileSync(${JSON.stringify(list)}, url + '\\n'); return next(url, ctx); } });`,
  ].join('\n'));
  config = join(root, 'proxy.json');
  writeFileSync(config, JSON.stringify({ listeners: [], clusters: [] }));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs `skein ARGS` in the copy; returns the output and the project modules it loaded. */
function skein(args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string; modules: string[] } {
  writeFileSync(list, '');
  const r = spawnSync(process.execPath, ['--import', hook, join(root, 'bin', 'skein.mjs'), ...args], {
    encoding: 'utf8', env: { ...process.env, SKEIN_JS: '', ...env }, timeout: 60_000,
  });
  const modules = readFileSync(list, 'utf8').split('\n').filter((l) => l !== '' && !l.endsWith('/record-modules.mjs')).map((u) => relative(root, new URL(u).pathname));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, modules };
}

const manifest = (): JsManifest => JSON.parse(readFileSync(join(root, JS_CACHE_DIR, MANIFEST), 'utf8')) as JsManifest;
/** The launcher (bin/skein.mjs and the plain-JS settings it reads, bin/process-settings.mjs) aside, every module from the copy. */
const LAUNCHER = new Set(['bin/skein.mjs', 'bin/process-settings.mjs']);
const fromCopy = (modules: readonly string[]): boolean => modules.length > 0 && modules.filter((m) => !LAUNCHER.has(m)).every((m) => m.startsWith(`${JS_CACHE_DIR}/`) && m.endsWith('.js'));

describe('builtin imports in the copy', () => {
  it('become process.getBuiltinModule with the same bindings and line count; other imports stay', () => {
    const js = [
      "import http from 'node:http';",
      "import net, { isIP as ip, Socket } from 'node:net';",
      'import {',
      '  readFileSync,',
      "} from 'fs';",
      "import {        } from 'node:tls';",
      "import * as os from 'node:os';",
      "import 'node:dns';",
      "import { x } from './x.js';",
      "import yaml from 'yaml';",
      'const s = "import a from \'node:zlib\'";',
    ].join('\n');
    const out = builtinImportsToGetBuiltin(js, 'f.js');
    expect(out.split('\n')).toEqual([
      'const http = process.getBuiltinModule("node:http");',
      'const net = process.getBuiltinModule("node:net"), { isIP: ip, Socket } = net;',
      'const { readFileSync } = process.getBuiltinModule("fs");',
      '',
      '',
      'const {} = process.getBuiltinModule("node:tls");',
      "import * as os from 'node:os';",
      "import 'node:dns';",
      "import { x } from './x.js';",
      "import yaml from 'yaml';",
      'const s = "import a from \'node:zlib\'";',
    ]);
  });
});

// Each test spawns the CLI up to four times, and a spawn that rebuilds the copy takes seconds on a loaded machine: the unit
// project's 20 s default timed one out in CI (23.6 s at load 17), so the limit is the spawns' own (60 s each).
describe('plain-JS copy of the pod commands', { timeout: 240_000 }, () => {
  it('is built on first use and then used: no .ts module loads', () => {
    const r = skein(['proxy', '--check', '--config', config]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('valid');
    expect(fromCopy(r.modules)).toBe(true);
    expect(r.modules).toContain(`${JS_CACHE_DIR}/${manifest().dir}/cli/commands/proxy.js`);
  });

  it('rewrites every relative import to a file that exists in the copy, and leaves no .ts specifier', () => {
    const dir = join(root, JS_CACHE_DIR, manifest().dir);
    const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
    const built = walk(dir).filter((f) => f.endsWith('.js'));
    expect(built.length).toBeGreaterThan(30);
    for (const file of built) {
      const js = readFileSync(file, 'utf8');
      const rel = posix.normalize(relative(dir, file));
      expect(js).not.toMatch(/^\s*import\s+type\s/m);
      // Builtins come from process.getBuiltinModule (an ESM import of node:http alone loads undici: ~13 MB).
      expect(js, rel).not.toMatch(/^\s*import\s[^*'"]*from\s*['"]node:/m);
      for (const ref of ts.preProcessFile(js, true, true).importedFiles) {
        if (!ref.fileName.startsWith('.')) continue;
        expect(ref.fileName, rel).not.toMatch(/\.ts$/);
        // main.js keeps lazy imports of commands that run from the sources; everything else must be in the copy.
        if (rel === 'cli/main.js' && /commands\/(?!(?:proxy|injector|control-plane)\.js$)/.test(ref.fileName)) continue;
        expect(statSync(join(dirname(file), ref.fileName)).isFile(), `${rel} -> ${ref.fileName}`).toBe(true);
      }
    }
    const headWriter = readFileSync(join(dir, 'proxy', 'http1', 'head-writer.js'), 'utf8');
    expect(headWriter).toMatch(/const \{ STATUS_CODES \} = process\.getBuiltinModule\("node:http"\);/);
    // Same line count as the source: stack traces point at the right lines.
    expect(headWriter.split('\n').length).toBe(readFileSync(join(root, 'proxy', 'http1', 'head-writer.ts'), 'utf8').split('\n').length);
    // The native addon's C source sits next to the module that compiles it.
    expect(statSync(join(dir, 'proxy', 'native', 'original-dst.c')).isFile()).toBe(true);
  });

  it('never runs a stale copy: an edited source is rebuilt before the command runs', () => {
    const before = manifest().dir;
    const file = join(root, 'cli', 'commands', 'proxy.ts');
    writeFileSync(file, readFileSync(file, 'utf8').replace('`${source}: valid\\n`', '`${source}: valid (edited)\\n`'));
    const r = skein(['proxy', '--check', '--config', config]);
    expect(r.stdout).toContain('valid (edited)');
    expect(manifest().dir).not.toBe(before);
    expect(fromCopy(r.modules)).toBe(true);
    expect(r.modules).toContain(`${JS_CACHE_DIR}/${manifest().dir}/cli/commands/proxy.js`);
  });

  it('runs the sources when the copy is stale and another process holds the build lock', () => {
    const file = join(root, 'proxy', 'log.ts');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n// edited\n`);
    const lock = join(root, JS_CACHE_DIR, '.build-lock');
    mkdirSync(lock);
    try {
      const r = skein(['proxy', '--check', '--config', config]);
      expect(r.stdout).toContain('valid (edited)');
      expect(r.modules).toContain('cli/commands/proxy.ts');
      expect(r.modules.some((m) => m.startsWith(JS_CACHE_DIR))).toBe(false);
    } finally {
      rmSync(lock, { recursive: true });
    }
  });

  it('an edited asset or a deleted source also makes the copy stale', () => {
    expect(fromCopy(skein(['proxy', '--check', '--config', config]).modules)).toBe(true);
    const c = join(root, 'proxy', 'native', 'original-dst.c');
    writeFileSync(c, `${readFileSync(c, 'utf8')}\n/* edited */\n`);
    const dir = manifest().dir;
    expect(fromCopy(skein(['proxy', '--check', '--config', config]).modules)).toBe(true);
    expect(manifest().dir).not.toBe(dir);
    expect(readFileSync(join(root, JS_CACHE_DIR, manifest().dir, 'proxy', 'native', 'original-dst.c'), 'utf8')).toContain('/* edited */');
    // A source listed in the manifest that is gone: the copy is not used (the build then fails; the sources run and fail the same way).
    const gone = join(root, 'proxy', 'sidecar', 'sidecar-bootstrap.ts');
    const text = readFileSync(gone, 'utf8');
    rmSync(gone);
    try {
      const r = skein(['proxy', '--check', '--config', config]);
      expect(r.status).not.toBe(0);
      expect(r.modules).toContain('cli/commands/proxy.ts');
    } finally {
      writeFileSync(gone, text);
    }
  });

  it('the control plane runs from the copy too', () => {
    const r = skein(['control-plane', '--help']);
    expect(r.stdout).toContain('control-plane');
    expect(fromCopy(r.modules)).toBe(true);
    expect(r.modules).toContain(`${JS_CACHE_DIR}/${manifest().dir}/cli/commands/control-plane.js`);
  });

  it('copies the graph of another entry into a folder of its own, the manifest untouched (the bench\'s control plane)', () => {
    const before = readFileSync(join(root, JS_CACHE_DIR, MANIFEST), 'utf8');
    const out = buildJsGraph(['control-plane/serving/config-server.ts'], root);
    expect(relative(root, out)).toMatch(/^\.cache\/js-graphs\/[0-9a-f]{16}$/);
    const server = readFileSync(join(out, 'control-plane', 'serving', 'config-server.js'), 'utf8');
    expect(server).toContain("from '../../api/proto/config-discovery.js'");
    expect(statSync(join(out, 'api', 'proto', 'config-discovery.js')).isFile()).toBe(true);
    expect(statSync(join(out, 'api', 'proto', 'config-discovery.proto')).isFile()).toBe(true);
    expect(buildJsGraph(['control-plane/serving/config-server.ts'], root)).toBe(out);
    expect(readFileSync(join(root, JS_CACHE_DIR, MANIFEST), 'utf8')).toBe(before);
  });

  it('SKEIN_JS=0 and the other commands run the TypeScript sources', () => {
    const off = skein(['proxy', '--check', '--config', config], { SKEIN_JS: '0' });
    expect(off.stdout).toContain('valid');
    expect(off.modules).toContain('cli/commands/proxy.ts');
    const help = skein(['--help']);
    expect(help.stdout).toContain('proxy [options]');
    expect(help.modules).toContain('cli/main.ts');
    expect(help.modules.some((m) => m.startsWith(JS_CACHE_DIR))).toBe(false);
  });
});
