// Starts a real Kubernetes node beside the local control plane (containerd + runc, the CNI plugins, kubelet, kube-proxy), with
// images built here and imported into containerd, and stops it leaving the host as it found it.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { componentVersions, type NodeBinaries } from '../binaries.ts';
import type { CertificatePem } from '../certificates.ts';
import { buildSkeinImages } from '../images/build-images.ts';
import type { BuiltImage } from '../images/oci-archive.ts';
import { corednsImage, PAUSE_IMAGE } from '../images/skein-images.ts';
import { LocalClusterError } from '../local-cluster-error.ts';
import type { ManagedProcess } from '../managed-process.ts';
import { waitReady } from '../wait-ready.ts';
import { cniConflist, containerdConfigToml, kubeletConfigYaml, kubeProxyConfigYaml, nodeDirs } from './node-configs.ts';
import { claimRealNode, cleanupRealNodeHost, liveRealNodeOwner, releaseRealNode, type RealNodeRecord } from './real-node-state.ts';

export const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RealNodeOptions {
  /** The node's work dir (containerd, kubelet, CNI, pod logs); everything the node writes goes here or is cleaned up. */
  readonly root: string;
  readonly stateDir: string;
  readonly nodeName: string;
  readonly nodeIp: string;
  readonly bins: NodeBinaries;
  /** kubeconfigs of system:node:<name> and system:kube-proxy. */
  readonly kubeletKubeconfig: string;
  readonly kubeProxyKubeconfig: string;
  readonly caFile: string;
  readonly servingCertFile: string;
  readonly servingKeyFile: string;
  /** Reads the Node object as admin (https://127.0.0.1:<port>/api/v1/nodes/<name>). */
  readonly apiProbe: { readonly server: string; readonly ca: string; readonly client: CertificatePem };
  readonly ports: { readonly kubelet: number; readonly kubeletHealthz: number; readonly proxyMetrics: number; readonly proxyHealthz: number };
  readonly clusterDns?: readonly string[];
  /** Starts and records a component process (the cluster's state file lists it, so a crashed run's processes are killed). */
  readonly start: (name: string, exe: string, args: string[], env?: NodeJS.ProcessEnv) => ManagedProcess;
  readonly log: (line: string) => void;
  /** How long to wait for another process's real node on this machine to stop; default `realNodeWaitMs()`. */
  readonly waitMs?: number;
}

export interface RealNode {
  readonly images: readonly BuiltImage[];
  /** Milliseconds from the node's start: images built, containerd up, images imported, node Ready, kube-proxy synced. */
  readonly timings: Readonly<Record<string, number>>;
  readonly containerdSocket: string;
  /** The CoreDNS image imported for the cluster DNS addon (local-cluster/addons/cluster-dns.ts). */
  readonly corednsImage: string;
  stop(): Promise<void>;
}

const DEFAULT_WAIT_S = 15 * 60;

/**
 * How long a start waits for another process's real node on this machine: $SKEIN_REAL_NODE_WAIT_S seconds, else 15 minutes.
 * A CI run on a machine where others also start real nodes sets it higher, so that a queue of short runs cannot time it out.
 */
export function realNodeWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SKEIN_REAL_NODE_WAIT_S;
  if (raw === undefined || raw === '') return DEFAULT_WAIT_S * 1000;
  if (!/^\d{1,6}$/.test(raw.trim())) {
    throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_CONFIG', `SKEIN_REAL_NODE_WAIT_S must be a whole number of seconds (0-999999), not ${JSON.stringify(raw)}`);
  }
  return Number(raw.trim()) * 1000;
}

function run(file: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: timeoutMs, env: { ...process.env, PATH: HOST_PATH }, maxBuffer: 8 << 20 }, (e, stdout, stderr) => {
      if (e) reject(new Error(`${file} ${args.join(' ')}: ${String(stderr).trim() || e.message}`));
      else resolve(String(stdout));
    });
  });
}

/** Starts containerd, imports the images, starts the kubelet and kube-proxy; the node is Ready and Services work when it returns. */
export async function startRealNode(o: RealNodeOptions): Promise<RealNode> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (what: string): void => {
    timings[what] = Date.now() - t0;
    o.log(`real node: ${what} (${timings[what]} ms)`);
  };

  // One real node per machine: its iptables chains and sysctls are machine-wide.
  const waitMs = o.waitMs ?? realNodeWaitMs();
  const deadline = Date.now() + waitMs;
  let record: RealNodeRecord | false;
  for (;;) {
    record = await claimRealNode(o.stateDir, o.root, o.bins.kubeProxy, o.log);
    if (record) break;
    if (Date.now() > deadline) {
      throw new LocalClusterError(
        'SKEIN_ERR_LOCAL_CLUSTER_NODE_BUSY',
        `another process (${liveRealNodeOwner(o.stateDir)}) has run this machine's real node for the last ${Math.round(waitMs / 1000)} s; stop it, or wait longer with SKEIN_REAL_NODE_WAIT_S`,
      );
    }
    o.log(`real node: waiting for process ${liveRealNodeOwner(o.stateDir)} to stop its node`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const claimed = record;
  const procs: ManagedProcess[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // kube-proxy and the kubelet first (nothing recreates pods or rules), then containerd; then the host is put back.
      const t = Date.now();
      for (const p of [...procs].reverse()) await p.stop(5000);
      o.log(`real node: kube-proxy, kubelet and containerd stopped in ${Date.now() - t} ms`);
      await cleanupRealNodeHost(claimed, o.log);
      releaseRealNode(o.stateDir);
    })());

  try {
    const d = nodeDirs(o.root);
    for (const dir of [d.root, join(d.root, 'containerd'), d.cniConfDir, d.cniIpamDir, d.kubeletRoot, d.podLogs]) mkdirSync(dir, { recursive: true });
    const dnsImage = corednsImage(componentVersions().coredns);
    const { images, archivePath } = buildSkeinImages(o.log, undefined, { binary: o.bins.coredns, version: componentVersions().coredns });
    mark('images built');

    writeFileSync(d.containerdConfig, containerdConfigToml(d, { sandboxImage: PAUSE_IMAGE, runc: '/usr/sbin/runc' }));
    writeFileSync(join(d.cniConfDir, '10-skein.conflist'), cniConflist(d));
    const containerd = o.start('containerd', '/usr/bin/containerd', ['--config', d.containerdConfig, '--log-level', 'warn'], { ...process.env, PATH: HOST_PATH });
    procs.push(containerd);
    const ctr = (...args: string[]): Promise<string> => run('/usr/bin/ctr', ['--address', d.containerdSocket, '--namespace', 'k8s.io', ...args]);
    for (let i = 0; ; i++) {
      try {
        await ctr('version');
        break;
      } catch (e) {
        if (containerd.exitStatus() || i > 200) throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_START', `containerd did not start: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    mark('containerd up');
    await ctr('images', 'import', archivePath);
    mark(`${images.length} images imported`);

    writeFileSync(
      d.kubeletConfig,
      kubeletConfigYaml(d, {
        nodeIp: o.nodeIp,
        port: o.ports.kubelet,
        healthzPort: o.ports.kubeletHealthz,
        caFile: o.caFile,
        tlsCertFile: o.servingCertFile,
        tlsKeyFile: o.servingKeyFile,
        clusterDns: o.clusterDns ?? [],
      }),
    );
    const kubelet = o.start(
      'kubelet',
      o.bins.kubelet,
      [
        `--config=${d.kubeletConfig}`,
        `--kubeconfig=${o.kubeletKubeconfig}`,
        `--root-dir=${d.kubeletRoot}`,
        `--cert-dir=${join(d.kubeletRoot, 'pki')}`,
        `--hostname-override=${o.nodeName}`,
        `--node-ip=${o.nodeIp}`,
        '--v=1',
      ],
      { ...process.env, PATH: HOST_PATH },
    );
    procs.push(kubelet);
    const nodeUrl = `${o.apiProbe.server}/api/v1/nodes/${o.nodeName}`;
    await waitReady(`node ${o.nodeName}`, kubelet, { url: nodeUrl, ca: o.apiProbe.ca, client: o.apiProbe.client }, 180_000, (body) => {
      try {
        const node = JSON.parse(body) as { status?: { conditions?: { type: string; status: string }[] } };
        return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
      } catch {
        return false;
      }
    });
    mark(`node ${o.nodeName} Ready`);

    writeFileSync(
      d.kubeProxyConfig,
      kubeProxyConfigYaml({ kubeconfig: o.kubeProxyKubeconfig, nodeName: o.nodeName, metricsPort: o.ports.proxyMetrics, healthzPort: o.ports.proxyHealthz }),
    );
    const kubeProxy = o.start('kube-proxy', o.bins.kubeProxy, [`--config=${d.kubeProxyConfig}`, '--v=1'], { ...process.env, PATH: HOST_PATH });
    procs.push(kubeProxy);
    await waitReady('kube-proxy', kubeProxy, { url: `http://127.0.0.1:${o.ports.proxyHealthz}/healthz` }, 120_000);
    mark('kube-proxy synced');

    return { images, timings, containerdSocket: d.containerdSocket, corednsImage: dnsImage, stop };
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
}
