// The images the real node runs, built from this checkout and the host's binaries: pause, the Skein image and the example apps.
//
// Layers, bottom first (a layer shared by several images has one digest and is stored once by containerd):
// | layer        | what                                                                     | used by                |
// |--------------|--------------------------------------------------------------------------|------------------------|
// | pause        | /pause, a static C program (pause.c)                                     | pause                  |
// | node         | /usr/local/bin/node (Node 24 from node_modules/node, stripped) + its libraries, /etc/passwd, /tmp | skein, examples |
// | node-modules | /app/node_modules: the production dependencies (no types, maps or docs)  | skein, examples        |
// | skein-tools  | /bin/sh (dash), /usr/bin/env, iptables (nft) with its extensions         | skein                  |
// | skein-app    | /app: bin/, the sources, the plain-JS build (.cache/js), the native helper | skein                |
// | example-<n>  | /app/examples/<n>                                                        | example-<n>            |
// | shell        | /bin/sh (dash) and a few coreutils                                       | busybox:1.36 (a stand-in) |
// | coredns      | /coredns (static, local-cluster/addons/build-coredns.sh)                 | coredns                |
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { EXAMPLE_IMAGE_PREFIX, PROXY_UID, SKEIN_IMAGE } from '../../api/mesh/mesh-constants.ts';
import { touchUsed } from './image-cache-prune.ts';
import type { ImageConfig, ImageSpec } from './oci-archive.ts';
import { Rootfs } from './rootfs.ts';

export const REPO_ROOT = realpathSync(join(import.meta.dirname, '..', '..'));
export const PAUSE_IMAGE = 'skein.dev/pause:1';
/**
 * A small shell image under busybox's names (dash and a few coreutils from the host, not busybox itself), for tests and
 * examples whose pods need `sh`, `sleep`, `cat`: there is no registry to pull the real one from. Pods name it with a tag and
 * imagePullPolicy IfNotPresent or Never (a bare `busybox` means :latest, which the kubelet always tries to pull).
 */
export const SHELL_IMAGE = 'docker.io/library/busybox:1.36';
const SHELL_TOOLS = ['sleep', 'cat', 'echo', 'ls', 'true', 'false', 'env', 'id', 'head', 'wc', 'mkdir', 'rm', 'touch', 'date'] as const;
/** UID of the injector and the control plane (their manifests run them as this user); the proxy runs as PROXY_UID. */
export const SKEIN_UID = 2103;
/** Where the image keeps the proxy's prebuilt native helper (SO_ORIGINAL_DST), so no pod needs a C compiler. */
export const IMAGE_NATIVE_CACHE = '/var/cache/skein/native';
/** The Skein image's ports: proxy admin, outbound, inbound, health; control plane gRPC and debug; injector webhook. */
export const SKEIN_IMAGE_PORTS = [15000, 15001, 15006, 15020, 15010, 15014, 9443] as const;
/** What runs `skein ...` in the image (the node in /usr/local/bin; /usr/local/bin/skein for `command: [skein, ...]`). */
export const SKEIN_IMAGE_CONFIG: ImageConfig = {
  entrypoint: ['/usr/local/bin/node', '/app/bin/skein.mjs'],
  env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `SKEIN_NATIVE_CACHE=${IMAGE_NATIVE_CACHE}`, 'NODE_ENV=production'],
  workingDir: '/app',
  user: `${PROXY_UID}:${PROXY_UID}`,
  exposedPorts: SKEIN_IMAGE_PORTS,
};
/** Folders and files of the checkout that go to /app in the Skein image (the sources the non-JS commands run from). */
export const SKEIN_APP_PATHS = ['package.json', 'bin', 'api', 'cli', 'proxy', 'injector', 'control-plane', 'scripts/build-js.ts'] as const;
export const EXAMPLE_NAMES = ['echo', 'caller', 'loadgen', 'grpc-echo'] as const;

const PASSWD = `root:x:0:0:root:/root:/usr/sbin/nologin\nskein-proxy:x:${PROXY_UID}:${PROXY_UID}:skein proxy:/tmp:/usr/sbin/nologin\nskein:x:${SKEIN_UID}:${SKEIN_UID}:skein:/tmp:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`;
const GROUP = `root:x:0:\nskein-proxy:x:${PROXY_UID}:\nskein:x:${SKEIN_UID}:\nnogroup:x:65534:\n`;

/** Files in node_modules that nothing loads at run time (types, source maps, docs); licences stay. */
function runtimeFile(rel: string, isDir: boolean): boolean {
  const name = basename(rel);
  if (isDir) return name !== '.bin' && name !== '@types' && name !== 'node_modules';
  if (/^(LICENSE|LICENCE|NOTICE|COPYING)/i.test(name)) return true;
  return !/\.(d\.ts|d\.mts|d\.cts|map|md|markdown|tsbuildinfo)$/i.test(name);
}

/** The production packages (not dev-only) listed in node_modules/.package-lock.json, as paths relative to the repo. */
export function productionPackages(root = REPO_ROOT): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'node_modules', '.package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean; link?: boolean; optional?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([p, m]) => p.startsWith('node_modules/') && !m.dev && !m.devOptional && !m.link && existsSync(join(root, p)))
    .map(([p]) => p)
    .sort();
}

/**
 * The pinned Node binary without its local symbols and debug info (`strip --strip-unneeded`: 126 -> 108 MB; the dynamic symbol
 * table that native addons link against stays), made once per binary into `cacheDir`. The unstripped one when strip is missing.
 */
function strippedNode(root: string, cacheDir: string): string {
  const node = realpathSync(join(root, 'node_modules', 'node', 'bin', 'node'));
  const st = statSync(node);
  const out = join(cacheDir, 'native', `node-${createHash('sha256').update(`${node}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 16)}`);
  if (existsSync(out)) {
    touchUsed(out);
    return out;
  }
  mkdirSync(join(cacheDir, 'native'), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync('strip', ['--strip-unneeded', '-o', tmp, node], { stdio: 'pipe' });
    renameSync(tmp, out);
    return out;
  } catch {
    return node;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function nodeLayer(root: string, cacheDir: string): Rootfs {
  return new Rootfs()
    .binary('usr/local/bin/node', strippedNode(root, cacheDir))
    .text('etc/passwd', PASSWD)
    .text('etc/group', GROUP)
    .text('etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n')
    .dir('tmp', 0o1777);
}

function nodeModulesLayer(root: string): Rootfs {
  const fs = new Rootfs();
  for (const pkg of productionPackages(root)) fs.tree(`app/${pkg}`, join(root, pkg), runtimeFile);
  return fs;
}

/** Compiles the proxy's native helper as the proxy would (same file name), once per source version, into `cacheDir`. */
function prebuiltNativeHelper(root: string, cacheDir: string): { name: string; path: string } {
  const source = join(root, 'proxy', 'native', 'original-dst.c');
  const hash = createHash('sha256').update(readFileSync(source)).update(process.arch).digest('hex').slice(0, 16);
  const name = `original-dst-${hash}.node`;
  const dir = join(cacheDir, 'native');
  const path = join(dir, name);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    execFileSync(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-O2', '-o', tmp, source], { stdio: 'pipe' });
    renameSync(tmp, path);
  } else touchUsed(path);
  return { name, path };
}

function pauseBinary(cacheDir: string): string {
  const source = join(import.meta.dirname, 'pause.c');
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const path = join(cacheDir, 'native', `pause-${hash}`);
  if (!existsSync(path)) {
    mkdirSync(join(cacheDir, 'native'), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      execFileSync(process.env.CC ?? 'cc', ['-static', '-Os', '-s', '-o', tmp, source], { stdio: 'pipe' });
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
  } else touchUsed(path);
  return path;
}

function which(name: string): string {
  for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (existsSync(join(d, name))) return join(d, name);
  throw new Error(`${name} is not installed on the host (local-cluster/real-node/ensure-node-packages.sh installs it)`);
}

function toolsLayer(): Rootfs {
  const fs = new Rootfs().binary('bin/dash', which('dash')).symlink('bin/sh', 'dash').binary('usr/bin/env', which('env'));
  // iptables for the skein-init container: the multi-call binary, its names, and the extensions it loads by dlopen.
  const multi = realpathSync(which('iptables'));
  fs.binary(`usr/sbin/${basename(multi)}`, multi);
  for (const n of ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore']) fs.symlink(`usr/sbin/${n}`, basename(multi));
  const xt = '/usr/lib/x86_64-linux-gnu/xtables';
  if (existsSync(xt)) for (const so of readdirSync(xt).sort()) fs.binary(`${xt}/${so}`, join(xt, so));
  return fs;
}

/** Makes the plain-JS build current (`npm run build:js`) and returns its folder under .cache/js plus the manifest. */
function currentJsBuild(root: string): { manifest: string; dir: string; inputs: string[] } {
  const node = join(root, 'node_modules', 'node', 'bin', 'node');
  const r = spawnSync(node, ['--disable-warning=ExperimentalWarning', join(root, 'scripts', 'build-js.ts')], { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`npm run build:js failed: ${(r.stderr || r.error?.message || '').trim()}`);
  const manifest = join(root, '.cache', 'js', 'current.json');
  const m = JSON.parse(readFileSync(manifest, 'utf8')) as { dir: string; files: Record<string, string> };
  return { manifest, dir: m.dir, inputs: Object.keys(m.files) };
}

function skeinAppLayer(root: string, cacheDir: string): Rootfs {
  const fs = new Rootfs();
  const noTests = (rel: string, isDir: boolean): boolean => (isDir ? rel !== 'testdata' && rel !== 'node_modules' : !rel.endsWith('.test.ts'));
  for (const p of SKEIN_APP_PATHS) {
    if (p.includes('.')) fs.file(`app/${p}`, join(root, p));
    else fs.tree(`app/${p}`, join(root, p), noTests);
  }
  const js = currentJsBuild(root);
  // Every input the build recorded: bin/skein.mjs runs the copy only while each of them hashes as recorded.
  for (const rel of js.inputs) fs.file(`app/${rel}`, join(root, rel));
  fs.file('app/.cache/js/current.json', js.manifest).tree(`app/.cache/js/${js.dir}`, join(root, '.cache', 'js', js.dir));
  const helper = prebuiltNativeHelper(root, cacheDir);
  fs.file(`${IMAGE_NATIVE_CACHE.slice(1)}/${helper.name}`, helper.path, 0o644);
  fs.symlink('usr/local/bin/skein', '/app/bin/skein.mjs');
  return fs;
}

function shellLayer(): Rootfs {
  const fs = new Rootfs().binary('bin/dash', which('dash')).symlink('bin/sh', 'dash');
  for (const t of SHELL_TOOLS) fs.binary(`bin/${t}`, which(t));
  return fs.text('etc/passwd', PASSWD).text('etc/group', GROUP).dir('tmp', 0o1777);
}

export interface ImageSet {
  readonly pause: ImageSpec;
  readonly shell: ImageSpec;
  readonly skein: ImageSpec;
  readonly examples: readonly ImageSpec[];
  /** Only when a CoreDNS binary was given. */
  readonly coredns?: ImageSpec;
}

/** The cluster DNS image's name for a CoreDNS version (the version is the tag, so a new CoreDNS is a new image). */
export function corednsImage(version: string): string {
  return `skein.dev/coredns:${version}`;
}

/**
 * The CoreDNS image: the static binary alone, run as nobody (the Deployment lets it bind port 53 with the pod's
 * net.ipv4.ip_unprivileged_port_start sysctl rather than a file capability, which our tar layers do not carry).
 */
function corednsSpec(binary: string, version: string): ImageSpec {
  return {
    name: corednsImage(version),
    layers: [new Rootfs().file('coredns', binary, 0o755).dir('tmp', 0o1777)],
    config: { entrypoint: ['/coredns'], user: '65534:65534', exposedPorts: [53, 8080, 8181, 9153] },
  };
}

/** Describes every image (collects the files; builds nothing but the small native programs, cached in `cacheDir`). */
export function skeinImageSpecs(cacheDir: string, root = REPO_ROOT, coredns?: { binary: string; version: string }): ImageSet {
  const node = nodeLayer(root, cacheDir);
  const modules = nodeModulesLayer(root);
  const pause: ImageSpec = { name: PAUSE_IMAGE, layers: [new Rootfs().file('pause', pauseBinary(cacheDir), 0o755)], config: { entrypoint: ['/pause'], user: '65534:65534' } };
  const skein: ImageSpec = { name: SKEIN_IMAGE, layers: [node, modules, toolsLayer(), skeinAppLayer(root, cacheDir)], config: SKEIN_IMAGE_CONFIG };
  const examples = EXAMPLE_NAMES.map(
    (name): ImageSpec => ({
      name: `${EXAMPLE_IMAGE_PREFIX}${name}:demo`,
      // The e2e tests name the same apps with the e2e tag.
      aliases: [`${EXAMPLE_IMAGE_PREFIX}${name}:e2e`],
      layers: [node, modules, new Rootfs().tree(`app/examples/${name}`, join(root, 'examples', name))],
      config: {
        entrypoint: ['/usr/local/bin/node', `/app/examples/${name}/main.ts`],
        env: ['PATH=/usr/local/bin:/usr/bin:/bin'],
        workingDir: `/app/examples/${name}`,
        user: '65534:65534',
      },
    }),
  );
  const shell: ImageSpec = {
    name: SHELL_IMAGE,
    aliases: ['docker.io/library/busybox:latest'],
    layers: [shellLayer()],
    config: { cmd: ['sh'], env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
  };
  return { pause, shell, skein, examples, ...(coredns ? { coredns: corednsSpec(coredns.binary, coredns.version) } : {}) };
}
