// The shared npm install is never part of the repository: a tracked `node_modules` (each worktree's symlink to the shared
// install, which `git add -A` picks up) replaces the real install with a dangling link wherever the commit is checked out.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('the repository', () => {
  it('tracks nothing under node_modules', () => {
    const root = join(import.meta.dirname, '..', '..');
    const tracked = execFileSync('git', ['ls-files', '--', 'node_modules'], { cwd: root, encoding: 'utf8' });
    expect(tracked.trim(), 'git rm --cached node_modules, then commit').toBe('');
  });
});
