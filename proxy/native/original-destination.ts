// The original destination of a connection redirected to the proxy by iptables (SO_ORIGINAL_DST), via a tiny native addon.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface OriginalDestination {
  readonly address: string;
  readonly port: number;
}

type Addon = { originalDst(fd: number): OriginalDestination | null };
let addon: Addon | null | undefined;
let loadError: string | null = null;

const source = join(import.meta.dirname, 'original-dst.c');

/** Builds (once per source version, cached outside the repo) and loads the addon; null when no C compiler is available. */
function load(): Addon | null {
  if (addon !== undefined) return addon;
  try {
    const code = readFileSync(source);
    const hash = createHash('sha256').update(code).update(process.arch).digest('hex').slice(0, 16);
    const dir = process.env.SKEIN_NATIVE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'skein', 'native');
    const file = join(dir, `original-dst-${hash}.node`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      execFileSync(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-O2', '-o', tmp, source], { stdio: 'pipe' });
      renameSync(tmp, file);
    }
    addon = createRequire(import.meta.url)(file) as Addon;
  } catch (e) {
    loadError = (e as Error).message.split('\n')[0] ?? 'unknown';
    addon = null;
  }
  return addon;
}

/** Why the addon is unavailable (for the log line of the degraded mode), or null when it works. */
export function originalDestinationUnavailable(): string | null {
  load();
  return loadError;
}

/** Returns the pre-REDIRECT destination of `socket`, or null (not redirected, not TCP, or addon unavailable). */
export function originalDestination(socket: Socket): OriginalDestination | null {
  const a = load();
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (!a || typeof fd !== 'number' || fd < 0) return null;
  const dst = a.originalDst(fd);
  if (!dst) return null;
  // Without a REDIRECT, SO_ORIGINAL_DST reports the local address itself: that is not an original destination.
  if (dst.address === socket.localAddress?.replace(/^::ffff:/, '') && dst.port === socket.localPort) return null;
  return dst;
}
