// Writes an OCI image archive (oci-layout, index.json, blobs) from layers of files, with no container daemon; `ctr images import` reads it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { touchUsed } from './image-cache-prune.ts';
import type { Rootfs } from './rootfs.ts';
import { writeTar, type TarEntry } from './tar-writer.ts';

export interface ImageConfig {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly workingDir?: string;
  /** `uid` or `uid:gid`. */
  readonly user?: string;
  readonly exposedPorts?: readonly number[];
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ImageSpec {
  /** Full reference, e.g. `skein.dev/skein:0.1.0`: the name containerd (and a pod's `image:`) knows it by. */
  readonly name: string;
  /** More names for the same image (other tags). */
  readonly aliases?: readonly string[];
  /** Bottom first; a layer shared by several images (same files) gets the same digest and is stored once. */
  readonly layers: readonly Rootfs[];
  readonly config: ImageConfig;
}

export interface BuiltLayer {
  readonly path: string;
  readonly digest: string;
  readonly size: number;
}

export interface BuiltImage {
  readonly name: string;
  /** The name and its aliases. */
  readonly names: readonly string[];
  readonly manifest: Buffer;
  /** Digest of the image manifest: what containerd reports as the image's digest. */
  readonly manifestDigest: string;
  readonly config: Buffer;
  readonly configDigest: string;
  /** Sum of the layers' (uncompressed) sizes. */
  readonly size: number;
  readonly layers: readonly BuiltLayer[];
  /** True when every layer was already in the cache. */
  readonly cached: boolean;
}

const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (digest: string): string => digest.slice('sha256:'.length);

/** Writes (or finds in `cacheDir`) the layer's tar, named by the fingerprint of its inputs. */
export function buildLayer(rootfs: Rootfs, cacheDir: string): BuiltLayer & { cached: boolean } {
  const dir = join(cacheDir, 'layers');
  mkdirSync(dir, { recursive: true });
  const key = rootfs.fingerprint();
  const path = join(dir, `${key}.tar`);
  const meta = join(dir, `${key}.json`);
  if (existsSync(path) && existsSync(meta)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as { digest: string; size: number };
    touchUsed(path);
    touchUsed(meta);
    return { path, digest: m.digest, size: m.size, cached: true };
  }
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const { digest, size } = writeTar(tmp, rootfs.entries());
    renameSync(tmp, path);
    writeFileSync(meta, JSON.stringify({ digest, size }));
    return { path, digest, size, cached: false };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The image config JSON (no creation time, no history: the same inputs give the same digest). */
export function imageConfigJson(config: ImageConfig, diffIds: readonly string[]): Buffer {
  const c: Record<string, unknown> = {};
  if (config.user) c.User = config.user;
  if (config.exposedPorts?.length) c.ExposedPorts = Object.fromEntries(config.exposedPorts.map((p) => [`${p}/tcp`, {}]));
  if (config.env?.length) c.Env = [...config.env];
  if (config.entrypoint?.length) c.Entrypoint = [...config.entrypoint];
  if (config.cmd?.length) c.Cmd = [...config.cmd];
  if (config.workingDir) c.WorkingDir = config.workingDir;
  if (config.labels && Object.keys(config.labels).length) c.Labels = { ...config.labels };
  return Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: c, rootfs: { type: 'layers', diff_ids: [...diffIds] } }),
    'utf8',
  );
}

/** Builds (or finds cached) the image's layers and makes its config and manifest; `writeOciArchive` packs images into one file. */
export function buildImage(spec: ImageSpec, cacheDir: string): BuiltImage {
  const layers = spec.layers.map((l) => buildLayer(l, cacheDir));
  // Uncompressed layers: the diff id is the blob digest, and containerd unpacks them without gunzipping.
  const config = imageConfigJson(spec.config, layers.map((l) => l.digest));
  const configDigest = sha(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: { mediaType: MT.config, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: MT.layer, digest: l.digest, size: l.size })),
    }),
    'utf8',
  );
  return {
    name: spec.name,
    names: [spec.name, ...(spec.aliases ?? [])],
    manifest,
    manifestDigest: sha(manifest),
    config,
    configDigest,
    size: layers.reduce((s, l) => s + l.size, 0),
    layers: layers.map(({ path, digest, size }) => ({ path, digest, size })),
    cached: layers.every((l) => l.cached),
  };
}

/**
 * Writes the images as one OCI archive in `dir` (named by its index's digest; an existing one is reused): each blob once,
 * however many images share it, so containerd reads a shared layer once. Returns the archive's path.
 */
export function writeOciArchive(images: readonly BuiltImage[], dir: string, label: string): { path: string; cached: boolean } {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.index,
      manifests: images.flatMap((img) =>
        img.names.map((name) => ({
          mediaType: MT.manifest,
          digest: img.manifestDigest,
          size: img.manifest.length,
          // containerd names the imported image after io.containerd.image.name; other tools read the OCI ref name.
          annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1) },
        })),
      ),
    }),
    'utf8',
  );
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${label.replace(/[^A-Za-z0-9._-]+/g, '_')}-${hex(sha(index)).slice(0, 16)}.tar`);
  if (existsSync(path)) {
    touchUsed(path);
    return { path, cached: true };
  }
  const blobs = new Map<string, TarEntry>();
  for (const img of images) {
    blobs.set(img.configDigest, { kind: 'file', path: `blobs/sha256/${hex(img.configDigest)}`, data: img.config });
    blobs.set(img.manifestDigest, { kind: 'file', path: `blobs/sha256/${hex(img.manifestDigest)}`, data: img.manifest });
    for (const l of img.layers) blobs.set(l.digest, { kind: 'host-file', path: `blobs/sha256/${hex(l.digest)}`, source: l.path, size: l.size });
  }
  const entries: TarEntry[] = [
    { kind: 'file', path: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { kind: 'file', path: 'index.json', data: index },
    { kind: 'dir', path: 'blobs' },
    { kind: 'dir', path: 'blobs/sha256' },
    ...blobs.values(),
  ];
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeTar(tmp, entries);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { path, cached: false };
}
