// Prometheus addon (the Debian package): scrapes itself and every running pod that asks for it (prometheus.io/* annotations).
import { execFileSync } from 'node:child_process';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { LocalClusterError } from '../local-cluster-error.ts';
import { freePort } from '../free-port.ts';
import { startManagedProcess } from '../managed-process.ts';
import { recordOwnedProcesses } from '../state-file.ts';
import { registerTeardown } from '../teardown.ts';
import { waitReady } from '../wait-ready.ts';
import { podRoleTargets, withPodFileSd } from './kubernetes-pod-sd.ts';
import { podScrapeTargets } from './pod-scrape-targets.ts';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export interface PrometheusAddon {
  /** HTTP API and UI on loopback, e.g. GET `${url}/api/v1/query?query=up`. */
  readonly url: string;
  readonly logPath: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Installs the Debian package when the binary is missing (root, non-interactive); the system install is the cache. */
export function ensurePrometheusBinary(log: (line: string) => void): string {
  if (existsSync(PROMETHEUS_BIN)) return PROMETHEUS_BIN;
  log('prometheus: installing the Debian package `prometheus` (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): void => {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'prometheus'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  try {
    install();
  } catch {
    try {
      execFileSync('apt-get', ['update'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      install();
    } catch (e) {
      throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_BUILD', `could not install prometheus: ${(e as Error).message}`);
    }
  }
  if (!existsSync(PROMETHEUS_BIN)) throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_BUILD', `apt-get installed prometheus but ${PROMETHEUS_BIN} is missing`);
  return PROMETHEUS_BIN;
}

/** The mesh's scrape jobs as shipped to users (kubernetes_sd, role pod); the addon runs them through a stand-in. */
export const MESH_SCRAPE_CONFIGS = fileURLToPath(new URL('../../manifests/observability/prometheus-scrape-configs.yaml', import.meta.url));

/**
 * The scrape config: a 5 s interval (the demo and tests want fresh numbers); Prometheus itself, the pods that ask with
 * prometheus.io/* annotations (a file_sd file `startPrometheus` keeps in sync with the cluster), and the mesh's own jobs
 * from manifests/observability/ with their Kubernetes discovery replaced by a file of pod-role targets (Debian builds
 * Prometheus without kubernetes_sd).
 */
export function prometheusConfig(opts: { selfAddress: string; podTargetsFile: string; podRoleFile: string; meshScrapeConfigs?: string }): string {
  const mesh = opts.meshScrapeConfigs ?? (existsSync(MESH_SCRAPE_CONFIGS) ? readFileSync(MESH_SCRAPE_CONFIGS, 'utf8') : '');
  return stringify({
    global: { scrape_interval: '5s', evaluation_interval: '5s' },
    scrape_configs: [
      { job_name: 'prometheus', static_configs: [{ targets: [opts.selfAddress] }] },
      { job_name: 'kubernetes-pods', file_sd_configs: [{ files: [opts.podTargetsFile], refresh_interval: '5s' }] },
      ...withPodFileSd(mesh, opts.podRoleFile),
    ],
  });
}

/** Rewrites the targets file whenever the scrape-able pods change; polling keeps it simple and survives apiserver restarts. */
function syncPodTargets(kubeconfigPath: string, files: { annotated: string; podRole: string }, intervalMs: number, log: (line: string) => void): { stop(): void; synced: Promise<void> } {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const last = new Map<string, string>();
  // Atomic replace: Prometheus never reads a half-written file.
  const write = (file: string, text: string): void => {
    if (last.get(file) === text) return;
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
    last.set(file, text);
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failing = false;
  const once = async (): Promise<void> => {
    try {
      const pods = await core.listPodForAllNamespaces();
      write(files.annotated, JSON.stringify(podScrapeTargets(pods.items), null, 1));
      write(files.podRole, JSON.stringify(podRoleTargets(pods.items), null, 1));
      if (failing) log('prometheus: pod target sync recovered');
      failing = false;
    } catch (e) {
      if (!failing) log(`prometheus: pod target sync failed (keeps the last targets): ${(e as Error).message}`);
      failing = true;
    }
  };
  const loop = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void once().then(loop), intervalMs);
    // The loop alone must not keep a process alive.
    timer.unref();
  };
  const synced = once().then(loop);
  return {
    synced,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export async function startPrometheus(opts: { workDir: string; kubeconfigPath: string; log?: (line: string) => void }): Promise<PrometheusAddon> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const bin = ensurePrometheusBinary(log);
  const dir = join(opts.workDir, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const port = await freePort('127.0.0.1');
  const address = `127.0.0.1:${port}`;
  const configPath = join(dir, 'prometheus.yml');
  const podTargetsFile = join(dir, 'pod-targets.json');
  const podRoleFile = join(dir, 'pod-role-targets.json');
  writeFileSync(podTargetsFile, '[]');
  writeFileSync(podRoleFile, '[]');
  writeFileSync(configPath, prometheusConfig({ selfAddress: address, podTargetsFile, podRoleFile }));
  const sync = syncPodTargets(opts.kubeconfigPath, { annotated: podTargetsFile, podRole: podRoleFile }, 3000, log);
  await sync.synced;
  const proc = startManagedProcess({
    name: 'prometheus',
    exe: bin,
    args: [`--config.file=${configPath}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${address}`, '--web.enable-lifecycle'],
    logPath: join(dir, 'prometheus.log'),
    cwd: dir,
  });
  const forget = recordOwnedProcesses('prometheus', dir, [proc]);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      sync.stop();
      await proc.stop();
      forget();
      unregister();
    })());
  const unregister = registerTeardown({ stop, killNow: () => proc.killNow() });
  const url = `http://${address}`;
  try {
    await waitReady('prometheus', proc, { url: `${url}/-/ready` }, 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  log(`prometheus: ${url} (log ${proc.logPath})`);
  return { url, logPath: proc.logPath, pid: proc.pid, stop };
}
