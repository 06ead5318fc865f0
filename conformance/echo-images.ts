// The suite's backend images (echo-basic; echo-advanced = Istio's echo app), built from the binaries the suite build made and
// named exactly as the suite's own manifests name them, so its pods (imagePullPolicy IfNotPresent) find them on the node.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureNodeBinaries } from '../local-cluster/binaries.ts';
import { imageCacheDir, usedPaths } from '../local-cluster/images/build-images.ts';
import { pruneImageCache } from '../local-cluster/images/image-cache-prune.ts';
import { buildImage, writeOciArchive, type ImageSpec } from '../local-cluster/images/oci-archive.ts';
import { Rootfs } from '../local-cluster/images/rootfs.ts';
import type { ConformanceSuite } from './conformance-suite.ts';

const run = promisify(execFile);

/** The image references in the suite's manifests, by backend (the name part after the last `/`, before the tag). */
export interface SuiteImageNames {
  readonly echoBasic: readonly string[];
  readonly echoAdvanced: readonly string[];
  /** The DNS server of the Gateway base manifests (a UDP backend; its pod must be ready before any Gateway test runs). */
  readonly coredns: readonly string[];
}

/** Every `image:` of the given YAML texts that names echo-basic, echo-advanced or coredns, sorted, each once. */
export function suiteImageNames(yamlTexts: readonly string[]): SuiteImageNames {
  const basic = new Set<string>();
  const advanced = new Set<string>();
  const coredns = new Set<string>();
  for (const text of yamlTexts) {
    for (const m of text.matchAll(/^\s*(?:-\s*)?image:\s*["']?([^\s"']+)["']?\s*$/gm)) {
      const ref = m[1]!;
      const repo = ref.split('@')[0]!.replace(/:[^/:]+$/, '');
      const last = repo.slice(repo.lastIndexOf('/') + 1);
      if (last === 'echo-basic') basic.add(ref);
      else if (last === 'echo-advanced') advanced.add(ref);
      else if (last === 'coredns') coredns.add(ref);
    }
  }
  return { echoBasic: [...basic].sort(), echoAdvanced: [...advanced].sort(), coredns: [...coredns].sort() };
}

/** The YAML files of the conformance module (base/, mesh/, tests/), read for their image names. */
export function suiteManifestTexts(moduleDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.yaml')) out.push(readFileSync(p, 'utf8'));
    }
  };
  for (const sub of ['base', 'mesh', 'tests']) walk(join(moduleDir, sub));
  return out;
}

const PATH_ENV = 'PATH=/usr/local/bin:/usr/bin:/bin';
/** Istio's echo image runs as this user (its Dockerfile.app: `useradd --uid 1338 application`). */
const ISTIO_APP_UID = 1338;
/** distroless/static:nonroot, which the suite's echo-basic image is built on. */
const NONROOT_UID = 65532;
const PASSWD = `root:x:0:0:root:/root:/sbin/nologin\napplication:x:${ISTIO_APP_UID}:${ISTIO_APP_UID}::/home/application:/sbin/nologin\nnonroot:x:${NONROOT_UID}:${NONROOT_UID}::/home/nonroot:/sbin/nologin\n`;
const GROUP = `root:x:0:\napplication:x:${ISTIO_APP_UID}:\nnonroot:x:${NONROOT_UID}:\n`;

function baseLayer(): Rootfs {
  return new Rootfs()
    .text('etc/passwd', PASSWD)
    .text('etc/group', GROUP)
    .text('etc/nsswitch.conf', 'hosts: files dns\n')
    .dir('tmp', 0o1777)
    .dir('home/application')
    .dir('home/nonroot');
}

/**
 * The images, as the suite's Dockerfiles describe them (entrypoint, user, files), under the manifests' names; CoreDNS is
 * the local cluster's own build (`corednsBinary`), run as root: the pod adds NET_BIND_SERVICE for port 53, which the
 * upstream image gives its non-root user by a file capability our layers do not carry.
 */
export function echoImageSpecs(suite: Pick<ConformanceSuite, 'echoBasic' | 'echoAdvancedDir'>, names: SuiteImageNames, corednsBinary?: string): ImageSpec[] {
  const specs: ImageSpec[] = [];
  const base = baseLayer();
  const [basicName, ...basicAliases] = names.echoBasic;
  if (basicName) {
    specs.push({
      name: basicName,
      aliases: basicAliases,
      layers: [base, new Rootfs().file('echo-basic', suite.echoBasic, 0o755)],
      config: { entrypoint: ['/echo-basic'], env: [PATH_ENV], workingDir: '/', user: `${NONROOT_UID}:${NONROOT_UID}` },
    });
  }
  const [advancedName, ...advancedAliases] = names.echoAdvanced;
  if (advancedName) {
    const d = suite.echoAdvancedDir;
    specs.push({
      name: advancedName,
      aliases: advancedAliases,
      layers: [
        base,
        new Rootfs()
          .file('usr/local/bin/server', join(d, 'server'), 0o755)
          .file('usr/local/bin/client', join(d, 'client'), 0o755)
          .file('cert.crt', join(d, 'cert.crt'), 0o644)
          .file('cert.key', join(d, 'cert.key'), 0o644),
      ],
      config: { entrypoint: ['/usr/local/bin/server'], env: [PATH_ENV], workingDir: '/', user: `${ISTIO_APP_UID}:${ISTIO_APP_UID}` },
    });
  }
  const [corednsName, ...corednsAliases] = names.coredns;
  if (corednsName && corednsBinary !== undefined) {
    specs.push({
      name: corednsName,
      aliases: corednsAliases,
      layers: [base, new Rootfs().file('coredns', corednsBinary, 0o755)],
      config: { entrypoint: ['/coredns'], env: [PATH_ENV], workingDir: '/', user: '0:0', exposedPorts: [53] },
    });
  }
  return specs;
}

/** Builds the images (layers cached with the node's) into one archive; returns it and the names it holds. */
export async function buildEchoImages(suite: ConformanceSuite, log: (line: string) => void, cacheDir = imageCacheDir()): Promise<{ archive: string; names: string[] }> {
  const names = suiteImageNames(suiteManifestTexts(suite.moduleDir));
  if (names.echoAdvanced.length === 0) throw new Error(`no echo-advanced image named in ${suite.moduleDir}'s manifests: the mesh tests need it`);
  // The node's binaries (CoreDNS among them): built here when missing, as the cluster would build them.
  const bins = await ensureNodeBinaries(log);
  const built = echoImageSpecs(suite, names, bins.coredns).map((s) => buildImage(s, cacheDir));
  const archive = writeOciArchive(built, join(cacheDir, 'archives'), 'conformance-images');
  for (const b of built) log(`conformance images: ${b.names.join(', ')} (${(b.size / 1048576).toFixed(1)} MiB${b.cached ? ', cached' : ''})`);
  pruneImageCache(cacheDir, { keep: usedPaths(built, archive.path), log });
  return { archive: archive.path, names: built.flatMap((b) => b.names) };
}

/** Imports the archive into the real node's containerd (namespace k8s.io, where the kubelet looks). */
export async function importImages(containerdSocket: string, archive: string): Promise<void> {
  await run('/usr/bin/ctr', ['--address', containerdSocket, '--namespace', 'k8s.io', 'images', 'import', archive], { timeout: 300_000, maxBuffer: 8 << 20 });
}
