// Maps a container image to a local entrypoint: the node agent has no container engine, so each image it accepts is a row here.
//
// | image                         | ENTRYPOINT (what `command` replaces)          | working dir      | command aliases |
// |-------------------------------|-----------------------------------------------|------------------|-----------------|
// | skein.dev/skein:<any tag>     | <node24> <repo>/bin/skein.mjs                 | <repo>           | skein, /usr/local/bin/skein, /skein |
//   (ENV SKEIN_NATIVE_CACHE=/var/cache/skein/native: the proxy's native helper, built by the agent as root at start)
// | skein.dev/example-<name>:<tag>| <node24> <repo>/examples/<name>/main.ts       | examples/<name>/ | <name>, /app/<name> |
// | busybox, alpine, debian,      | (none; CMD is `sh`)                           | /                | -               |
// | ubuntu, bash (any registry/tag)|                                              |                  |                 |
//
// As in Kubernetes, `command` replaces the ENTRYPOINT and `args` replace the CMD. A `command` whose first word is one of the
// image's aliases runs the image's entrypoint (so `command: [skein, proxy]` works); any other `command` runs the host's binary of
// that name (`sh`, `iptables`, `sleep`...), which is what a shell-bearing image would do.
import { join, resolve } from 'node:path';
import { EXAMPLE_IMAGE_PREFIX } from '../../api/mesh/mesh-constants.ts';
import type { Result } from '../../api/result.ts';
import { err, ok } from '../../api/result.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const PINNED_NODE = join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node');

/** The Skein image's prebuilt native helper (SO_ORIGINAL_DST addon) lives here, as it would in the image; see skein-image-prep.ts. */
export const SKEIN_IMAGE_NATIVE_CACHE = '/var/cache/skein/native';

export interface ImageEntry {
  /** The image's ENV: under the pod's env, like a Dockerfile ENV. */
  readonly env: Readonly<Record<string, string>>;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly workingDir: string;
  readonly aliases: readonly string[];
}

export interface ResolvedProcess {
  readonly env: Readonly<Record<string, string>>;
  readonly argv: readonly string[];
  readonly workingDir: string;
}

export interface ImageTableOptions {
  readonly repoRoot?: string;
  readonly node?: string;
}

const SHELL_IMAGES = new Set(['busybox', 'alpine', 'debian', 'ubuntu', 'bash']);

/** Repository part of an image reference without registry host, tag or digest, e.g. `docker.io/library/busybox:1.36` -> `library/busybox`. */
function splitImage(image: string): { repo: string; base: string } {
  let ref = image.split('@')[0]!;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) ref = ref.slice(0, colon);
  const base = ref.slice(ref.lastIndexOf('/') + 1);
  return { repo: ref, base };
}

export function lookupImage(image: string, opts: ImageTableOptions = {}): ImageEntry | undefined {
  const root = opts.repoRoot ?? REPO_ROOT;
  const node = opts.node ?? (opts.repoRoot ? join(root, 'node_modules', 'node', 'bin', 'node') : PINNED_NODE);
  const { repo, base } = splitImage(image);
  if (repo === 'skein.dev/skein') {
    return { env: { SKEIN_NATIVE_CACHE: SKEIN_IMAGE_NATIVE_CACHE }, entrypoint: [node, join(root, 'bin', 'skein.mjs')], cmd: [], workingDir: root, aliases: ['skein', '/usr/local/bin/skein', '/skein'] };
  }
  const examplePrefix = EXAMPLE_IMAGE_PREFIX; // 'skein.dev/example-'
  if (repo.startsWith(examplePrefix)) {
    const name = repo.slice(examplePrefix.length);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) return undefined;
    const dir = join(root, 'examples', name);
    return { env: {}, entrypoint: [node, join(dir, 'main.ts')], cmd: [], workingDir: dir, aliases: [name, `/app/${name}`] };
  }
  if (SHELL_IMAGES.has(base)) return { env: {}, entrypoint: [], cmd: ['sh'], workingDir: '/', aliases: [] };
  return undefined;
}

export function resolveProcess(
  image: string,
  command: readonly string[] | undefined,
  args: readonly string[] | undefined,
  opts: ImageTableOptions = {},
): Result<ResolvedProcess, string> {
  const entry = lookupImage(image, opts);
  if (!entry) return err(`image ${image} is not in the node agent's image table (see docs/local-cluster-node-agent.md)`);
  let argv: string[];
  if (command && command.length > 0) {
    const first = command[0]!;
    const head = entry.aliases.includes(first) ? [...entry.entrypoint] : [first];
    argv = [...head, ...command.slice(1), ...(args ?? [])];
  } else {
    argv = [...entry.entrypoint, ...(args && args.length > 0 ? args : entry.cmd)];
  }
  if (argv.length === 0) return err(`image ${image} has no entrypoint and the container sets no command`);
  return ok({ env: entry.env, argv, workingDir: entry.workingDir });
}
