// Prometheus addon (the Debian package): scrapes itself and every pod that asks for it (prometheus.io/* annotations).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { LocalClusterError } from '../local-cluster-error.ts';
import { freePort } from '../free-port.ts';
import { startManagedProcess } from '../managed-process.ts';
import { recordOwnedProcesses } from '../state-file.ts';
import { registerTeardown } from '../teardown.ts';
import { waitReady } from '../wait-ready.ts';

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

/** The scrape config: a 5 s interval (demo and tests want fresh numbers), pods discovered through the cluster's API. */
export function prometheusConfig(opts: { selfAddress: string; kubeconfigPath: string }): string {
  return stringify({
    global: { scrape_interval: '5s', evaluation_interval: '5s' },
    scrape_configs: [
      { job_name: 'prometheus', static_configs: [{ targets: [opts.selfAddress] }] },
      {
        job_name: 'kubernetes-pods',
        kubernetes_sd_configs: [{ role: 'pod', kubeconfig_file: opts.kubeconfigPath }],
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], action: 'keep', regex: 'true' },
          { source_labels: ['__meta_kubernetes_pod_phase'], action: 'keep', regex: 'Running' },
          {
            source_labels: ['__address__', '__meta_kubernetes_pod_annotation_prometheus_io_port'],
            action: 'replace',
            regex: '([^:]+)(?::\\d+)?;(\\d+)',
            replacement: '$1:$2',
            target_label: '__address__',
          },
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_path'], action: 'replace', regex: '(.+)', target_label: '__metrics_path__' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          { source_labels: ['__meta_kubernetes_pod_label_app'], target_label: 'app' },
        ],
      },
    ],
  });
}

export async function startPrometheus(opts: { workDir: string; kubeconfigPath: string; log?: (line: string) => void }): Promise<PrometheusAddon> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const bin = ensurePrometheusBinary(log);
  const dir = join(opts.workDir, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const port = await freePort('127.0.0.1');
  const address = `127.0.0.1:${port}`;
  const configPath = join(dir, 'prometheus.yml');
  writeFileSync(configPath, prometheusConfig({ selfAddress: address, kubeconfigPath: opts.kubeconfigPath }));
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
