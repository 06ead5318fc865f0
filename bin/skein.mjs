#!/usr/bin/env node
// Entry point of the `skein` command: makes sure it runs on Node 24 (the project's pinned runtime), then starts the CLI.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
await import('../cli/main.ts');
