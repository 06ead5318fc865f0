// Gives the "Skein image" what a real image build would: the proxy's native helper (the SO_ORIGINAL_DST addon) compiled once,
// as root, into a world-readable directory, so a proxy running as its unprivileged UID finds it instead of trying to build it;
// and the plain-JS copy of the proxy (scripts/build-js.ts) made current, which that UID cannot write either (without it the
// sidecars still run, from the TypeScript sources, with ~25 MB more RSS each).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CONTAINER_PATH } from './host-tools.ts';
import { PINNED_NODE, REPO_ROOT, SKEIN_IMAGE_NATIVE_CACHE } from './image-table.ts';

/** Best effort: returns why the native helper is unavailable (the proxy then logs its degraded mode), or null. */
export function prepareSkeinImage(): string | null {
  spawnSync(PINNED_NODE, ['--disable-warning=ExperimentalWarning', join(REPO_ROOT, 'scripts', 'build-js.ts')], { stdio: 'ignore', timeout: 120_000 });
  const helper = join(REPO_ROOT, 'proxy', 'native', 'original-destination.ts');
  try {
    mkdirSync(SKEIN_IMAGE_NATIVE_CACHE, { recursive: true });
    for (let d = SKEIN_IMAGE_NATIVE_CACHE; d !== '/var/cache'; d = join(d, '..')) chmodSync(d, 0o755);
  } catch (e) {
    return (e as Error).message;
  }
  const script = `import(${JSON.stringify(pathToFileURL(helper).href)}).then((m) => { const why = m.originalDestinationUnavailable(); if (why) { console.error(why); process.exit(1); } })`;
  const r = spawnSync(PINNED_NODE, ['--input-type=module', '-e', script], {
    env: { PATH: CONTAINER_PATH, HOME: '/root', SKEIN_NATIVE_CACHE: SKEIN_IMAGE_NATIVE_CACHE },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status === 0) return null;
  return (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').at(-1) ?? 'unknown';
}
