// Starts one Skein proxy process for the benchmark and waits until its admin server says /ready.
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessGroup, Started } from './process-group.ts';

export const REPO_DIR = join(import.meta.dirname, '..', '..');

/** GET a loopback URL; resolves with the status code, or null on a connection error. */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number | null> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => { res.resume(); resolve(res.statusCode ?? null); });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

export type SkeinStart = { readonly ok: true; readonly proc: Started } | { readonly ok: false; readonly reason: string };

/**
 * Writes the config, runs `node bin/skein.mjs proxy --config FILE` with this Node 24 (so the pid we watch is the proxy
 * itself, not a re-exec wrapper) and polls /ready on the admin port until 200 or the deadline.
 */
export async function startSkeinProxy(
  group: ProcessGroup, name: string, config: Record<string, unknown>, adminPort: number, dir: string, extraNodeArgs: readonly string[] = [],
  timeoutMs = 15_000,
  /** `repoDir`: the checkout whose proxy runs (another commit, for a before/after in one run); `env`: added to ours; `proxyArgs`: after --config. */
  opts: { readonly repoDir?: string; readonly env?: Readonly<Record<string, string>> | undefined; readonly proxyArgs?: readonly string[] } = {},
): Promise<SkeinStart> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  const proc = group.start(name, process.execPath, [...extraNodeArgs, join(opts.repoDir ?? REPO_DIR, 'bin', 'skein.mjs'), 'proxy', '--config', file, ...(opts.proxyArgs ?? [])], opts.env);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      return { ok: false, reason: `${name} exited (${proc.child.exitCode ?? proc.child.signalCode}): ${proc.output().trim().split('\n').slice(-3).join(' | ')}` };
    }
    if ((await httpStatus(`http://127.0.0.1:${adminPort}/ready`)) === 200) return { ok: true, proc };
    if (Date.now() > deadline) {
      await group.stop(proc);
      return { ok: false, reason: `${name}: /ready on admin port ${adminPort} not 200 after ${timeoutMs} ms` };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
