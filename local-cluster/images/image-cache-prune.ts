// Keeps the image cache (<cache>/images: layers, archives, native programs) under a size budget by removing what was used least
// recently: every code change builds new layers and a new archive, and without this the cache grows by hundreds of MiB a build.
import { lstatSync, readdirSync, rmSync, utimesSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { LocalClusterError } from '../local-cluster-error.ts';

const GIB = 1024 ** 3;
const DEFAULT_MAX_GIB = 4;
/** Never removed younger than this (by mtime): another process on the machine may be building from it right now. */
export const PRUNE_MIN_AGE_MS = 30 * 60_000;
const PRUNED_DIRS = ['archives', 'layers', 'native'] as const;

/** The cache's budget: $SKEIN_IMAGE_CACHE_MAX_GIB (a positive number of GiB), else 4 GiB. */
export function imageCacheBudgetBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SKEIN_IMAGE_CACHE_MAX_GIB?.trim();
  if (raw === undefined || raw === '') return DEFAULT_MAX_GIB * GIB;
  if (!/^\d{1,5}(\.\d{1,3})?$/.test(raw) || Number(raw) <= 0) {
    throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_CONFIG', `SKEIN_IMAGE_CACHE_MAX_GIB must be a positive number of GiB (e.g. 4 or 0.5), not ${JSON.stringify(raw)}`);
  }
  return Math.round(Number(raw) * GIB);
}

/** One thing the prune may remove as a whole: a layer (its tar and its metadata), an archive, a native program or folder. */
interface CacheEntry {
  readonly paths: string[];
  size: number;
  /** The latest mtime among its paths: a cache hit touches it (`touchUsed`). */
  usedAt: number;
}

function sizeOf(path: string, st: Stats): number {
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const name of readdirSync(path)) {
    const p = join(path, name);
    n += sizeOf(p, lstatSync(p));
  }
  return n;
}

function entries(cacheDir: string): CacheEntry[] {
  const byKey = new Map<string, CacheEntry>();
  for (const sub of PRUNED_DIRS) {
    const dir = join(cacheDir, sub);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      let st: Stats;
      try {
        st = lstatSync(path);
      } catch {
        continue; // removed by another process meanwhile
      }
      // A layer is `<key>.tar` plus `<key>.json`: one entry, so a tar never outlives the metadata that makes it a hit.
      const key = sub === 'layers' ? join(dir, name.replace(/\.(tar|json)$/, '')) : path;
      const e = byKey.get(key) ?? { paths: [], size: 0, usedAt: 0 };
      e.paths.push(path);
      e.size += sizeOf(path, st);
      e.usedAt = Math.max(e.usedAt, st.mtimeMs);
      byKey.set(key, e);
    }
  }
  return [...byKey.values()];
}

export interface PruneResult {
  readonly removed: number;
  readonly freedBytes: number;
  readonly sizeBytes: number;
}

/**
 * Removes the least recently used entries until the cache fits `maxBytes`, never one of `keep` (what the current build uses)
 * and never one used within PRUNE_MIN_AGE_MS of `now`; so the cache may stay over budget while everything in it is recent.
 */
export function pruneImageCache(
  cacheDir: string,
  opts: { readonly keep?: ReadonlySet<string>; readonly maxBytes?: number; readonly now?: number; readonly log?: (line: string) => void } = {},
): PruneResult {
  const maxBytes = opts.maxBytes ?? imageCacheBudgetBytes();
  const now = opts.now ?? Date.now();
  const all = entries(cacheDir);
  let size = all.reduce((s, e) => s + e.size, 0);
  let removed = 0;
  let freed = 0;
  if (size <= maxBytes) return { removed, freedBytes: freed, sizeBytes: size };
  const candidates = all
    .filter((e) => !e.paths.some((p) => opts.keep?.has(p)) && now - e.usedAt >= PRUNE_MIN_AGE_MS)
    .sort((a, b) => a.usedAt - b.usedAt);
  for (const e of candidates) {
    if (size <= maxBytes) break;
    for (const p of e.paths) rmSync(p, { recursive: true, force: true });
    size -= e.size;
    freed += e.size;
    removed++;
  }
  if (removed > 0) opts.log?.(`images: cache pruned: ${removed} least recently used entries, ${(freed / 1048576).toFixed(0)} MiB freed, ${(size / 1048576).toFixed(0)} MiB left (budget ${(maxBytes / 1048576).toFixed(0)} MiB, SKEIN_IMAGE_CACHE_MAX_GIB)`);
  return { removed, freedBytes: freed, sizeBytes: size };
}

/** Marks a cache entry as used now (its mtime), so the prune removes it last; a file removed meanwhile is no error. */
export function touchUsed(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {}
}
