// Unit tests of the daemon-less image builder: reproducible tar bytes, a valid OCI layout, shared layers, ldd's libraries.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildImage, writeOciArchive, type ImageSpec } from './oci-archive.ts';
import { Rootfs, sharedLibraries } from './rootfs.ts';
import { writeTar, type TarEntry } from './tar-writer.ts';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'skein-oci-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function hostTree(): string {
  const src = tmp();
  mkdirSync(join(src, 'lib', 'deep'), { recursive: true });
  writeFileSync(join(src, 'main.js'), 'console.log("hi")\n');
  writeFileSync(join(src, 'run.sh'), '#!/bin/sh\necho run\n');
  chmodSync(join(src, 'run.sh'), 0o755);
  writeFileSync(join(src, 'lib', 'deep', `${'n'.repeat(120)}.js`), 'export {}\n');
  symlinkSync('main.js', join(src, 'link.js'));
  return src;
}

describe('writeTar', () => {
  it('writes the same bytes whatever the entry order, with fixed mtimes, root owner, long names and symlinks that tar reads', () => {
    const d = tmp();
    const long = `a/${'x'.repeat(150)}/file.txt`;
    const entries: TarEntry[] = [
      { kind: 'file', path: long, data: Buffer.from('long\n') },
      { kind: 'dir', path: 'a' },
      { kind: 'dir', path: `a/${'x'.repeat(150)}` },
      { kind: 'symlink', path: 'a/link', target: 'target' },
      { kind: 'file', path: 'a/exe', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
    ];
    const one = writeTar(join(d, 'one.tar'), entries);
    const two = writeTar(join(d, 'two.tar'), [...entries].reverse());
    expect(two).toEqual(one);
    expect(readFileSync(join(d, 'one.tar')).equals(readFileSync(join(d, 'two.tar')))).toBe(true);
    expect(one.digest).toBe(`sha256:${sha256(readFileSync(join(d, 'one.tar')))}`);
    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', join(d, 'one.tar')], { encoding: 'utf8' });
    expect(listing).toContain(long);
    expect(listing).toMatch(/^lrwxrwxrwx 0\/0 +0 1970-01-01 00:00:00 a\/link -> target$/m);
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 +10 1970-01-01 00:00:00 a\/exe$/m);
    const out = tmp();
    execFileSync('tar', ['-xf', join(d, 'one.tar'), '-C', out]);
    expect(readFileSync(join(out, long), 'utf8')).toBe('long\n');
  });

  it('refuses paths that would escape the image and duplicates', () => {
    const d = tmp();
    expect(() => writeTar(join(d, 'x.tar'), [{ kind: 'dir', path: '../etc' }])).toThrow(/bad tar path/);
    expect(() => writeTar(join(d, 'x.tar'), [{ kind: 'dir', path: '/etc' }])).toThrow(/bad tar path/);
    expect(() => writeTar(join(d, 'x.tar'), [{ kind: 'dir', path: 'a' }, { kind: 'dir', path: 'a' }])).toThrow(/duplicate/);
  });
});

describe('buildImageArchive', () => {
  it('writes an OCI layout whose digests, diff ids, names and config agree, and the same image digest from another cache', () => {
    const src = hostTree();
    const spec = {
      name: 'skein.dev/test:1',
      aliases: ['skein.dev/test:e2e'],
      layers: [new Rootfs().text('etc/passwd', 'root:x:0:0::/:/bin/sh\n'), new Rootfs().tree('app', src)],
      config: { entrypoint: ['/app/run.sh'], user: '2102:2102', exposedPorts: [8080], env: ['A=b'], workingDir: '/app' },
    };
    const cache = tmp();
    const img = buildImage(spec, cache);
    const archive = writeOciArchive([img], cache, 'test');
    const out = tmp();
    execFileSync('tar', ['-xf', archive.path, '-C', out]);
    const blob = (digest: string): Buffer => readFileSync(join(out, 'blobs', 'sha256', digest.slice(7)));
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(JSON.parse(readFileSync(join(out, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['io.containerd.image.name'])).toEqual([
      'skein.dev/test:1',
      'skein.dev/test:e2e',
    ]);
    const manifestBytes = blob(index.manifests[0].digest);
    expect(`sha256:${sha256(manifestBytes)}`).toBe(img.manifestDigest);
    const manifest = JSON.parse(manifestBytes.toString());
    const config = JSON.parse(blob(manifest.config.digest).toString());
    for (const l of manifest.layers) expect(`sha256:${sha256(blob(l.digest))}`).toBe(l.digest);
    expect(config.rootfs.diff_ids).toEqual(manifest.layers.map((l: { digest: string }) => l.digest));
    expect(config.config).toEqual({ User: '2102:2102', ExposedPorts: { '8080/tcp': {} }, Env: ['A=b'], Entrypoint: ['/app/run.sh'], WorkingDir: '/app' });
    const files = execFileSync('tar', ['-tvf', join(out, 'blobs', 'sha256', manifest.layers[1].digest.slice(7))], { encoding: 'utf8' });
    expect(files).toMatch(/^-rwxr-xr-x .* app\/run\.sh$/m);
    expect(files).toMatch(/app\/link\.js -> main\.js$/m);

    expect(buildImage(spec, cache).cached).toBe(true);
    expect(writeOciArchive([img], cache, 'test')).toEqual({ path: archive.path, cached: true });
    // Another machine (another cache, other mtimes) builds the very same image.
    utimesSync(join(src, 'main.js'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const again = buildImage(spec, tmp());
    expect(again.cached).toBe(false);
    expect(again.manifestDigest).toBe(img.manifestDigest);
  });

  it('gives a layer shared by two images one digest, stored once in their archive', () => {
    const cache = tmp();
    const base = new Rootfs().text('etc/os-release', 'ID=skein\n');
    const specA: ImageSpec = { name: 'skein.dev/a:1', layers: [base, new Rootfs().text('a', 'a')], config: {} };
    const a = buildImage(specA, cache);
    const b = buildImage({ name: 'skein.dev/b:1', layers: [base, new Rootfs().text('b', 'b')], config: {} }, cache);
    expect(a.layers[0]!.digest).toBe(b.layers[0]!.digest);
    expect(a.layers[1]!.digest).not.toBe(b.layers[1]!.digest);
    // One archive for both holds the shared layer once.
    const out = tmp();
    execFileSync('tar', ['-xf', writeOciArchive([a, b], cache, 'ab').path, '-C', out]);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([a.manifestDigest, b.manifestDigest]);
    const blobs = execFileSync('ls', [join(out, 'blobs', 'sha256')], { encoding: 'utf8' }).trim().split('\n');
    expect(blobs).toHaveLength(2 + 2 + 3);
  });
});

describe('Rootfs.binary', () => {
  it('adds the shared libraries ldd reports, the dynamic loader included', () => {
    const libs = sharedLibraries('/bin/sh');
    expect(libs.some((l) => /\/libc\.so/.test(l))).toBe(true);
    expect(libs.some((l) => /ld-linux/.test(l))).toBe(true);
    const paths = new Rootfs().binary('bin/sh', '/bin/sh').entries().map((e) => e.path);
    for (const l of libs) expect(paths).toContain(l.slice(1));
  });
});
