// scripts/ensure-deps.sh reinstalls when the lockfile's content changed, not when a checkout only touched its mtime (a git
// worktree or merge did, and `npm ci` then emptied an install shared by several checkouts).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A checkout with an install in place, and an `npm` on PATH that only records that it ran. */
function checkout(): { dir: string; run(): void; installed(): boolean } {
  const dir = mkdtempSync(join(tmpdir(), 'skein-ensure-deps-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(import.meta.dirname, '..', '..', 'scripts', 'ensure-deps.sh'), join(dir, 'scripts', 'ensure-deps.sh'));
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', '.bin', 'node'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(dir, 'node_modules', '.bin', 'node'), 0o755);
  writeFileSync(join(dir, 'node_modules', '.package-lock.json'), '{}');
  writeFileSync(join(dir, 'package-lock.json'), '{"lockfileVersion":3}');
  // Older than the install, as after a real `npm ci`: written a moment after it, the lockfile could land in the next second
  // and look newer to the script's mtime test (dash's `-nt` compares whole seconds), which failed CI once.
  const past = new Date(Date.now() - 3_600_000);
  utimesSync(join(dir, 'package-lock.json'), past, past);
  mkdirSync(join(dir, 'fake-bin'));
  writeFileSync(join(dir, 'fake-bin', 'npm'), `#!/bin/sh\ntouch "${join(dir, 'npm-ran')}"\n`);
  chmodSync(join(dir, 'fake-bin', 'npm'), 0o755);
  return {
    dir,
    run: () => void execFileSync('sh', [join(dir, 'scripts', 'ensure-deps.sh')], { env: { ...process.env, PATH: `${join(dir, 'fake-bin')}:${process.env.PATH}` }, stdio: 'ignore' }),
    installed: () => {
      const ran = existsSync(join(dir, 'npm-ran'));
      rmSync(join(dir, 'npm-ran'), { force: true });
      return ran;
    },
  };
}

describe('ensure-deps.sh', () => {
  it('reinstalls when the lockfile content changes, not when only its mtime moves', () => {
    const c = checkout();
    const later = new Date(Date.now() + 60_000);
    c.run(); // records the lockfile's hash (the lockfile is not newer than the install)
    expect(c.installed()).toBe(false);
    utimesSync(join(c.dir, 'package-lock.json'), later, later);
    c.run();
    expect(c.installed()).toBe(false);
    writeFileSync(join(c.dir, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    c.run();
    expect(c.installed()).toBe(true);
  });

  it('installs when there is no install at all', () => {
    const c = checkout();
    rmSync(join(c.dir, 'node_modules', '.package-lock.json'));
    c.run();
    expect(c.installed()).toBe(true);
  });
});
