// Where the locally built etcd and Kubernetes binaries live, and building them (build-kubernetes.sh) when they are missing;
// the real node's Debian packages (containerd, runc, CNI plugins) are installed here too.
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalClusterError } from './local-cluster-error.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const buildScriptPath = join(here, 'build-kubernetes.sh');

export interface ComponentVersions {
  readonly kubernetes: string;
  readonly etcd: string;
  readonly jaeger: string;
  readonly coredns: string;
}

export interface ClusterBinaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
}

/** Versions from versions.env, overridable by the same environment variables the build script honours. */
export function componentVersions(env: NodeJS.ProcessEnv = process.env): ComponentVersions {
  const file: Record<string, string> = {};
  for (const line of readFileSync(join(here, 'versions.env'), 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(\S+)\s*$/.exec(line);
    if (m) file[m[1]!] = m[2]!;
  }
  const kubernetes = env.KUBERNETES_VERSION || file.KUBERNETES_VERSION;
  const etcd = env.ETCD_VERSION || file.ETCD_VERSION;
  const jaeger = env.JAEGER_VERSION || file.JAEGER_VERSION;
  const coredns = env.COREDNS_VERSION || file.COREDNS_VERSION;
  if (!kubernetes || !etcd || !jaeger || !coredns) {
    throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_BUILD', 'versions.env lacks KUBERNETES_VERSION, ETCD_VERSION, JAEGER_VERSION or COREDNS_VERSION');
  }
  return { kubernetes, etcd, jaeger, coredns };
}

/** The cache root shared with build-kubernetes.sh: $SKEIN_CACHE_DIR, else $XDG_CACHE_HOME/skein, else ~/.cache/skein. */
export function skeinCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SKEIN_CACHE_DIR) return env.SKEIN_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'skein');
}

export function clusterBinaryPaths(env: NodeJS.ProcessEnv = process.env): ClusterBinaries {
  const v = componentVersions(env);
  const cache = skeinCacheDir(env);
  const k8s = join(cache, 'kubernetes', v.kubernetes, 'bin');
  return {
    etcd: join(cache, 'etcd', v.etcd, 'bin', 'etcd'),
    kubeApiserver: join(k8s, 'kube-apiserver'),
    kubeControllerManager: join(k8s, 'kube-controller-manager'),
    kubeScheduler: join(k8s, 'kube-scheduler'),
  };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function missingBinaries(bins: ClusterBinaries = clusterBinaryPaths()): string[] {
  return Object.values(bins).filter((p) => !isExecutable(p));
}

/**
 * Returns the binaries, running the build script first when any is missing (a cold build takes a long time; its progress
 * lines go to `log`). Cache hits return without spawning anything.
 */
export async function ensureClusterBinaries(log: (line: string) => void = () => {}): Promise<ClusterBinaries> {
  const bins = clusterBinaryPaths();
  const missing = missingBinaries(bins);
  if (missing.length === 0) return bins;
  log(`local cluster: building missing binaries (${missing.map((p) => p.split('/').pop()).join(', ')}) with ${buildScriptPath} (${firstBuildNote(13)})`);
  await runBuildScript(buildScriptPath, log);
  const still = missingBinaries(bins);
  if (still.length > 0) throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_BUILD', `the build did not produce ${still.join(', ')}`);
  return bins;
}

/**
 * What a build log line promises a newcomer: the first build's duration as measured on 2 cores (docs/local-cluster.md,
 * "Measured build time"), and that it happens once.
 */
export function firstBuildNote(minutes: number): string {
  return `first time only, about ${minutes} min on 2 cores; cached in ${skeinCacheDir()} afterwards`;
}

/** Runs one of our build scripts, streaming its progress lines to `log`; rejects with the output's tail when it fails. */
export async function runBuildScript(script: string, log: (line: string) => void, shell = 'bash', args: readonly string[] = []): Promise<void> {
  const tail: string[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    // No stdin: the build must never wait for a prompt (CI=true, no terminal).
    const child = spawn(shell, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        log(line);
        tail.push(line);
        if (tail.length > 30) tail.shift();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_BUILD', `${script} failed (exit ${code}); last output:\n${tail.join('\n')}`);
  }
}

export interface NodeBinaries {
  readonly kubelet: string;
  readonly kubeProxy: string;
  readonly kubectl: string;
  /** The cluster DNS addon's binary (local-cluster/addons/build-coredns.sh), put into the skein.dev/coredns image. */
  readonly coredns: string;
}

/** kubelet, kube-proxy and kubectl: built by the same script into the same cache as the control plane; CoreDNS beside Jaeger. */
export function nodeBinaryPaths(env: NodeJS.ProcessEnv = process.env): NodeBinaries {
  const v = componentVersions(env);
  const k8s = join(skeinCacheDir(env), 'kubernetes', v.kubernetes, 'bin');
  return {
    kubelet: join(k8s, 'kubelet'),
    kubeProxy: join(k8s, 'kube-proxy'),
    kubectl: join(k8s, 'kubectl'),
    coredns: join(skeinCacheDir(env), 'coredns', v.coredns, 'bin', 'coredns'),
  };
}

export const nodePackagesScriptPath = join(here, 'real-node', 'ensure-node-packages.sh');
export const buildCorednsScriptPath = join(here, 'addons', 'build-coredns.sh');

/**
 * The real node's binaries: kubelet, kube-proxy and kubectl built when missing (build-kubernetes.sh kubelet kube-proxy kubectl),
 * CoreDNS built when missing (build-coredns.sh), and containerd, runc, the CNI plugins and iptables installed from Debian when
 * missing (ensure-node-packages.sh).
 */
export async function ensureNodeBinaries(log: (line: string) => void = () => {}): Promise<NodeBinaries> {
  await runBuildScript(nodePackagesScriptPath, log, 'sh');
  const bins = nodeBinaryPaths();
  const k8s = [bins.kubelet, bins.kubeProxy, bins.kubectl];
  const missing = k8s.filter((p) => !isExecutable(p));
  if (missing.length > 0) {
    log(`local cluster: building ${missing.map((p) => p.split('/').pop()).join(', ')} with ${buildScriptPath} (${firstBuildNote(2)})`);
    await runBuildScript(buildScriptPath, log, 'bash', ['kubelet', 'kube-proxy', 'kubectl']);
  }
  if (!isExecutable(bins.coredns)) {
    log(`local cluster: building coredns with ${buildCorednsScriptPath} (${firstBuildNote(5)})`);
    await runBuildScript(buildCorednsScriptPath, log);
  }
  const still = Object.values(bins).filter((p) => !isExecutable(p));
  if (still.length > 0) throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_BUILD', `the build did not produce ${still.join(', ')}`);
  return bins;
}
