// The `skein` entry point: every subcommand is listed and runs, and `skein proxy` loads only the proxy's own modules.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '../bin/skein.mjs');
const dir = mkdtempSync(join(tmpdir(), 'skein-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const skein = (args: readonly string[], nodeArgs: readonly string[] = [], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [...nodeArgs, bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });

describe('skein', () => {
  it('--help lists every subcommand', () => {
    const r = skein(['--help']);
    expect(r.status).toBe(0);
    for (const name of ['proxy', 'inject', 'injector', 'init-iptables', 'wait-ready', 'cluster', 'demo']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
  });

  it('runs a subcommand, shows its help, and suggests the right name for a typo', () => {
    expect(skein(['proxy', '--help']).stdout).toContain('Usage: skein proxy [options]');
    expect(skein(['help', 'cluster']).stdout).toContain('Usage: skein cluster [options] [command]');
    const typo = skein(['injecter']);
    expect(typo.status).toBe(1);
    expect(typo.stderr).toContain("unknown command 'injecter'");
    expect(typo.stderr).toContain('Did you mean injector?');
  });

  it('`skein proxy` re-executes itself, same pid, with its V8 flags (SKEIN_PROXY_V8_FLAGS=0: without)', () => {
    const hook = join(dir, 'record-start.mjs');
    const starts = join(dir, 'starts.txt');
    writeFileSync(hook, `import { appendFileSync } from 'node:fs'; appendFileSync(${JSON.stringify(starts)}, JSON.stringify([process.pid, process.execArgv]) + '\\n');`);
    const config = join(dir, 'proxy.json');
    writeFileSync(config, JSON.stringify({ listeners: [], clusters: [] }));
    const run = (env: NodeJS.ProcessEnv): [number, string[]][] => {
      writeFileSync(starts, '');
      const r = skein(['proxy', '--check', '--config', config], ['--import', hook], env);
      expect(r.stdout).toContain('valid');
      return readFileSync(starts, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as [number, string[]]);
    };
    const withFlags = run({});
    expect(withFlags).toHaveLength(2);
    expect(withFlags[1]![0]).toBe(withFlags[0]![0]);
    expect(withFlags[0]![1]).not.toContain('--max-semi-space-size=1');
    expect(withFlags[1]![1]).toContain('--max-semi-space-size=1');
    const without = run({ SKEIN_PROXY_V8_FLAGS: '0' });
    expect(without).toHaveLength(1);
    expect(without[0]![1]).not.toContain('--max-semi-space-size=1');
    // Other commands start once, as they are.
    writeFileSync(starts, '');
    skein(['--version'], ['--import', hook]);
    expect(readFileSync(starts, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('`skein control-plane` re-executes itself with its V8 flags and malloc setting (a variable the caller set wins)', () => {
    const hook = join(dir, 'record-cp-start.mjs');
    const starts = join(dir, 'cp-starts.txt');
    writeFileSync(hook, `import { appendFileSync } from 'node:fs'; appendFileSync(${JSON.stringify(starts)}, JSON.stringify([process.pid, process.execArgv, process.env.MALLOC_MMAP_THRESHOLD_ ?? null]) + '\\n');`);
    const run = (env: NodeJS.ProcessEnv): [number, string[], string | null][] => {
      writeFileSync(starts, '');
      expect(skein(['control-plane', '--help'], ['--import', hook], env).stdout).toContain('Usage: skein control-plane');
      return readFileSync(starts, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as [number, string[], string | null]);
    };
    const started = run({ MALLOC_MMAP_THRESHOLD_: undefined });
    expect(started).toHaveLength(2);
    expect(started[1]![0]).toBe(started[0]![0]);
    expect(started[1]![1]).toContain('--max-semi-space-size=1');
    // Its gc() is what serving's IdleReclaimer calls after a burst of pushes.
    expect(started[1]![1]).toContain('--expose-gc');
    expect(started[1]![2]).toBe('131072');
    expect(run({ MALLOC_MMAP_THRESHOLD_: '65536' }).at(-1)![2]).toBe('65536');
    const without = run({ SKEIN_PROCESS_SETTINGS: '0', MALLOC_MMAP_THRESHOLD_: undefined });
    expect(without).toHaveLength(1);
    expect(without[0]![1]).not.toContain('--max-semi-space-size=1');
    expect(without[0]![2]).toBe(null);
  });

  it('`skein proxy` loads neither the other subcommands nor their libraries', () => {
    // A loader hook in the child records every module it loads.
    const hook = join(dir, 'record-modules.mjs');
    const list = join(dir, 'modules.txt');
    writeFileSync(hook, [
      "import { registerHooks } from 'node:module';",
      "import { appendFileSync } from 'node:fs';",
      `registerHooks({ load(url, ctx, next) { appendFileSync(${JSON.stringify(list)}, url + '\\n'); return next(url, ctx); } });`,
    ].join('\n'));
    const config = join(dir, 'proxy.json');
    writeFileSync(config, JSON.stringify({ listeners: [], clusters: [] }));
    const r = skein(['proxy', '--check', '--config', config], ['--import', hook]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('valid');
    const loaded = readFileSync(list, 'utf8');
    expect(loaded).toMatch(/cli\/commands\/proxy\.(ts|js)\n/);
    for (const other of ['commands/inject.', 'commands/injector.', 'commands/demo.', 'commands/cluster.', '/injector/', '/fastify/', '/node-forge/', '/node_modules/yaml/', '/node_modules/ajv/dist/compile/', '/@opentelemetry/', '/node_modules/commander/']) {
      expect(loaded).not.toContain(other);
    }
  });
});
