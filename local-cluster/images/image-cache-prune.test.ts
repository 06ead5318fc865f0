// The image cache's prune: least recently used first, down to the budget, never what the build uses nor what is recent.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { imageCacheBudgetBytes, PRUNE_MIN_AGE_MS, pruneImageCache, touchUsed } from './image-cache-prune.ts';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const HOUR = 3_600_000;
let dir: string;

function file(rel: string, bytes: number, usedMsAgo: number): string {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, Buffer.alloc(bytes));
  const t = new Date(NOW - usedMsAgo);
  utimesSync(p, t, t);
  return p;
}

const left = (sub: string): string[] => readdirSync(join(dir, sub)).sort();

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('pruneImageCache', () => {
  it('removes the least recently used entries until the cache fits, a layer with its metadata', () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-image-cache-'));
    file('layers/old.tar', 400, 5 * HOUR);
    file('layers/old.json', 10, 5 * HOUR);
    file('layers/mid.tar', 400, 3 * HOUR);
    file('layers/mid.json', 10, 3 * HOUR);
    file('archives/skein-images-a.tar', 300, 4 * HOUR);
    file('native/node-a', 200, 2 * HOUR);
    const r = pruneImageCache(dir, { maxBytes: 700, now: NOW });
    // Oldest first: the old layer (410), then the archive (300): 1320 -> 610 bytes.
    expect(left('layers')).toEqual(['mid.json', 'mid.tar']);
    expect(left('archives')).toEqual([]);
    expect(left('native')).toEqual(['node-a']);
    expect(r).toEqual({ removed: 2, freedBytes: 710, sizeBytes: 610 });
  });

  it('never removes what the build uses, nor anything used within the last 30 minutes, even over budget', () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-image-cache-'));
    const used = file('archives/skein-images-current.tar', 500, 10 * HOUR);
    file('layers/recent.tar', 500, PRUNE_MIN_AGE_MS - 60_000);
    file('layers/recent.json', 10, PRUNE_MIN_AGE_MS - 60_000);
    file('archives/skein-images-old.tar', 500, 9 * HOUR);
    const r = pruneImageCache(dir, { keep: new Set([used]), maxBytes: 100, now: NOW });
    expect(left('archives')).toEqual(['skein-images-current.tar']);
    expect(left('layers')).toEqual(['recent.json', 'recent.tar']);
    expect(r.sizeBytes).toBe(1010);
  });

  it('does nothing under budget, and counts a folder by its contents', () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-image-cache-'));
    file('native/build-x/a', 300, 10 * HOUR);
    file('native/build-x/b', 300, 10 * HOUR);
    utimesSync(join(dir, 'native/build-x'), new Date(NOW - 10 * HOUR), new Date(NOW - 10 * HOUR));
    expect(pruneImageCache(dir, { maxBytes: 600, now: NOW })).toEqual({ removed: 0, freedBytes: 0, sizeBytes: 600 });
    expect(pruneImageCache(dir, { maxBytes: 599, now: NOW }).freedBytes).toBe(600);
    expect(left('native')).toEqual([]);
  });

  it('touchUsed makes an entry the most recent', () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-image-cache-'));
    const p = file('archives/a.tar', 1, 10 * HOUR);
    touchUsed(p);
    expect(Date.now() - statSync(p).mtimeMs).toBeLessThan(PRUNE_MIN_AGE_MS);
    expect(() => touchUsed(join(dir, 'gone'))).not.toThrow();
  });
});

describe('imageCacheBudgetBytes', () => {
  it('is 4 GiB unless SKEIN_IMAGE_CACHE_MAX_GIB says otherwise', () => {
    expect(imageCacheBudgetBytes({})).toBe(4 * 1024 ** 3);
    expect(imageCacheBudgetBytes({ SKEIN_IMAGE_CACHE_MAX_GIB: '0.5' })).toBe(512 * 1024 ** 2);
  });

  it.each(['0', '-1', 'lots', '4G'])('refuses %j with a typed error', (raw) => {
    expect(() => imageCacheBudgetBytes({ SKEIN_IMAGE_CACHE_MAX_GIB: raw })).toThrow(expect.objectContaining({ code: 'SKEIN_ERR_LOCAL_CLUSTER_CONFIG' }));
  });
});
