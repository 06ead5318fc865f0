// Builds every image the real node runs (pause, Skein, the example apps) as OCI archives in the cache, reporting sizes and times.
import { join } from 'node:path';
import { skeinCacheDir } from '../binaries.ts';
import { pruneImageCache } from './image-cache-prune.ts';
import { buildImage, writeOciArchive, type BuiltImage } from './oci-archive.ts';
import { skeinImageSpecs } from './skein-images.ts';

/** Where image layers, archives and the small native programs are cached: <cache>/images. */
export function imageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(skeinCacheDir(env), 'images');
}

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

export interface SkeinImages {
  readonly images: readonly BuiltImage[];
  /** One OCI archive holding them all (each shared layer once): what the real node imports into containerd. */
  readonly archivePath: string;
}

/** The cache files a build uses (its layers and its archive): the prune keeps them whatever their age. */
export function usedPaths(images: readonly BuiltImage[], archivePath: string): Set<string> {
  return new Set([archivePath, ...images.flatMap((img) => img.layers.map((l) => l.path))]);
}

/** Builds (or finds cached) every image and the archive that holds them. */
export function buildSkeinImages(
  log: (line: string) => void = () => {},
  cacheDir = imageCacheDir(),
  coredns?: { readonly binary: string; readonly version: string },
): SkeinImages {
  const t0 = Date.now();
  const specs = skeinImageSpecs(cacheDir, undefined, coredns);
  const out: BuiltImage[] = [];
  for (const spec of [specs.pause, specs.shell, specs.skein, ...specs.examples, ...(specs.coredns ? [specs.coredns] : [])]) {
    const t = Date.now();
    const img = buildImage(spec, cacheDir);
    log(`images: ${img.name} ${mib(img.size)} in ${img.layers.length} layer(s), ${img.cached ? 'cached' : `built in ${Date.now() - t} ms`} (${img.manifestDigest.slice(0, 19)})`);
    out.push(img);
  }
  const archive = writeOciArchive(out, join(cacheDir, 'archives'), 'skein-images');
  log(`images: ${out.length} images ready in ${Date.now() - t0} ms: ${archive.path}${archive.cached ? ' (cached)' : ''}`);
  pruneImageCache(cacheDir, { keep: usedPaths(out, archive.path), log });
  return { images: out, archivePath: archive.path };
}
