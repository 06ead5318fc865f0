// Collects the files of an image layer from the host: binaries with the shared libraries ldd finds, folders, text and symlinks.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { TarEntry } from './tar-writer.ts';

const norm = (p: string): string => posix.normalize(p).replace(/^\/+/, '').replace(/\/+$/, '');

/** Shared libraries (absolute host paths, the loader included) that `binary` needs, as ldd reports them; [] for a static binary. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    // ldd exits 1 for "not a dynamic executable" (a static binary): nothing to add.
    const stdout = String((e as { stdout?: unknown }).stdout ?? '') + String((e as { stderr?: unknown }).stderr ?? '');
    if (/not a dynamic executable|statically linked/.test(stdout)) return [];
    throw new Error(`ldd ${binary} failed: ${(e as Error).message}`, { cause: e });
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const arrow = /=>\s+(\/\S+)\s+\(/.exec(line);
    if (arrow) libs.push(arrow[1]!);
    else if (/^\s*(\/\S+)\s+\(/.test(line)) libs.push(/^\s*(\/\S+)/.exec(line)![1]!);
    else if (line.includes('not found')) throw new Error(`ldd ${binary}: ${line.trim()}`);
  }
  return libs;
}

/** A layer's files, keyed by path inside the image; parent folders are added as needed. */
export class Rootfs {
  readonly #entries = new Map<string, TarEntry>();

  #parents(path: string): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!this.#entries.has(dir)) this.#entries.set(dir, { kind: 'dir', path: dir });
    }
  }

  #put(e: TarEntry): this {
    this.#parents(e.path);
    this.#entries.set(e.path, e);
    return this;
  }

  dir(path: string, mode = 0o755): this {
    return this.#put({ kind: 'dir', path: norm(path), mode });
  }

  text(path: string, content: string, mode = 0o644): this {
    return this.#put({ kind: 'file', path: norm(path), mode, data: Buffer.from(content, 'utf8') });
  }

  symlink(path: string, target: string): this {
    return this.#put({ kind: 'symlink', path: norm(path), target });
  }

  /** A host file's content (symlinks followed) at `path`; executable on the host means 0755 in the image, else 0644. */
  file(path: string, source: string, mode?: number): this {
    const real = realpathSync(source);
    const st = statSync(real);
    return this.#put({ kind: 'host-file', path: norm(path), source: real, size: st.size, mode: mode ?? (st.mode & 0o111 ? 0o755 : 0o644) });
  }

  /** A host binary at `path` plus every shared library it loads, each at the path the dynamic loader will look for it. */
  binary(path: string, source: string): this {
    this.file(path, source, 0o755);
    for (const lib of sharedLibraries(source)) {
      if (!this.#entries.has(norm(lib))) this.file(lib, lib);
    }
    return this;
  }

  /** A host folder copied under `path`; symlinks stay symlinks; `keep` (given the path relative to `source`) filters. */
  tree(path: string, source: string, keep: (rel: string, isDir: boolean) => boolean = () => true): this {
    const walk = (rel: string): void => {
      for (const name of readdirSync(join(source, rel)).sort()) {
        const r = rel ? `${rel}/${name}` : name;
        const host = join(source, r);
        const st = lstatSync(host);
        if (!keep(r, st.isDirectory())) continue;
        const dest = `${norm(path)}/${r}`;
        if (st.isSymbolicLink()) this.symlink(dest, readlinkSync(host));
        else if (st.isDirectory()) {
          this.dir(dest);
          walk(r);
        } else if (st.isFile()) this.#put({ kind: 'host-file', path: dest, source: host, size: st.size, mode: st.mode & 0o111 ? 0o755 : 0o644 });
      }
    };
    walk('');
    return this;
  }

  entries(): TarEntry[] {
    return [...this.#entries.values()];
  }

  /**
   * A key over every input (paths, kinds, modes, link targets, inline contents, host files' size and mtime): equal keys mean an
   * equal layer, so a cached layer is reused without reading its files again.
   */
  fingerprint(): string {
    const h = createHash('sha256');
    for (const e of [...this.#entries.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) {
      h.update(`${e.kind}\0${e.path}\0`);
      if (e.kind === 'symlink') h.update(e.target);
      else if (e.kind === 'file') h.update(`${e.mode}\0`).update(e.data);
      else if (e.kind === 'host-file') h.update(`${e.mode}\0${e.size}\0${statSync(e.source).mtimeMs}\0${e.source}`);
      else h.update(String(e.mode));
      h.update('\n');
    }
    return h.digest('hex');
  }
}
