// Starts a real local Kubernetes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and a real node: kubelet +
// containerd + kube-proxy, with CoreDNS) and tears it down.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureClusterBinaries, ensureNodeBinaries, type NodeBinaries } from './binaries.ts';
import { createCertificateAuthority, generateRsaKeyPair, issueCertificate, type CertificatePem } from './certificates.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { LocalClusterError } from './local-cluster-error.ts';
import { freePorts } from './free-port.ts';
import { startManagedProcess, procStartTicks, type ManagedProcess } from './managed-process.ts';
import { waitReady, type Probe } from './wait-ready.ts';
import { cleanupStaleClusters, clusterStateDir, writeClusterState } from './state-file.ts';
import { registerTeardown } from './teardown.ts';
import { startRealNode, type RealNode } from './real-node/real-node.ts';
import { cleanupStaleRealNode } from './real-node/real-node-state.ts';
import { CLUSTER_DNS_IP, deployClusterDns } from './addons/cluster-dns.ts';

export interface LocalClusterOptions {
  /** Where certificates, kubeconfigs, etcd data and component logs go; a fresh temp dir (removed on stop) when omitted. */
  workDir?: string;
  log?: (line: string) => void;
  /** false: the control plane only, no node (pods stay Pending); the same as `node: 'none'`. Kept for its many callers. */
  withNodeAgent?: boolean;
  /**
   * The node: 'kubelet' (a real kubelet with containerd, the CNI plugins, kube-proxy and CoreDNS; see
   * docs/local-cluster-real-node.md) or 'none'. Default: 'none' when withNodeAgent is false, else $SKEIN_LOCAL_NODE, else 'kubelet'.
   */
  node?: LocalNodeKind;
  /**
   * How long to wait for another process's real node on this machine to stop (one real node per machine: its iptables chains
   * and sysctls are machine-wide); default 15 minutes, then the start fails.
   */
  nodeWaitMs?: number;
}

export type LocalNodeKind = 'kubelet' | 'none';

/**
 * The node a cluster gets when its caller asks for one without naming it: the real node, unless SKEIN_LOCAL_NODE=none (the
 * control plane alone). The node agent that ran pods as processes was retired; naming it is an error that says so.
 */
export function defaultNodeKind(env: NodeJS.ProcessEnv = process.env): LocalNodeKind {
  const v = env.SKEIN_LOCAL_NODE;
  if (v === undefined || v === '') return 'kubelet';
  if (v === 'kubelet' || v === 'none') return v;
  const why = v === 'agent' ? ': the node agent was retired, every cluster runs a real kubelet now' : '';
  throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_START', `SKEIN_LOCAL_NODE must be kubelet or none (got ${JSON.stringify(v)})${why}`);
}

export interface LocalCluster {
  /** Admin kubeconfig (client certificate in group system:masters). */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly workDir: string;
  stop(): Promise<void>;
}

/** Everything a caller may want beyond the LocalCluster contract (ports, PKI paths, the pod-reachable API address). */
export interface LocalClusterDetails extends LocalCluster {
  readonly apiserverPort: number;
  /** The address the apiserver advertises in the `kubernetes` Service endpoints; pods on the bridge reach it there. */
  readonly advertiseAddress: string;
  readonly caCertPath: string;
  readonly etcdUrl: string;
  readonly logs: Readonly<Record<string, string>>;
  /** The component processes (for tests that check teardown). */
  readonly processes: readonly { readonly name: string; readonly pid: number }[];
  readonly nodeName: string | undefined;
  readonly nodeKind: LocalNodeKind;
  /** Set with node 'kubelet': the images imported, the node's timings, containerd's socket. */
  readonly realNode?: Omit<RealNode, 'stop'>;
  /** Set with node 'kubelet': kubectl built with the other binaries. */
  readonly kubectl?: string;
}

export const LOCAL_NODE_NAME = 'skein-local';
export const SERVICE_CIDR = '10.96.0.0/16';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** The IPv4 address of the default-route interface: what the apiserver advertises and pods on the bridge can reach. */
function hostAddress(): string {
  try {
    const out = execFileSync('ip', ['-4', 'route', 'show', 'default'], { encoding: 'utf8' });
    const dev = /\bdev (\S+)/.exec(out)?.[1];
    const addr = dev ? networkInterfaces()[dev]?.find((a) => a.family === 'IPv4' && !a.internal)?.address : undefined;
    if (addr) return addr;
  } catch {}
  for (const list of Object.values(networkInterfaces())) {
    const a = list?.find((x) => x.family === 'IPv4' && !x.internal && !x.address.startsWith('10.245.'));
    if (a) return a.address;
  }
  // No routable address: the apiserver still runs, but the `kubernetes` Service gets no endpoints (loopback is refused there).
  return '127.0.0.1';
}

export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalClusterDetails> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const nodeKind: LocalNodeKind = opts.node ?? (opts.withNodeAgent === false ? 'none' : defaultNodeKind());

  const stateDir = clusterStateDir();
  // A real node whose owner crashed left iptables chains, mounts, netns and sysctls: put them back whatever node we start now
  // (first: its mounts must be gone before the crashed run's work dir is removed).
  await cleanupStaleRealNode(stateDir, log);
  const stale = cleanupStaleClusters(stateDir, log);
  if (stale > 0) log(`local cluster: cleaned up ${stale} stale process(es)`);

  const bins = await ensureClusterBinaries(log);
  const nodeBins: NodeBinaries | undefined = nodeKind === 'kubelet' ? await ensureNodeBinaries(log) : undefined;

  const removeWorkDir = opts.workDir === undefined;
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'skein-cluster-'));
  // A fresh cluster every time: old etcd data would not match the new CA and service-account keys.
  for (const sub of ['etcd', 'pki', 'logs', 'controller-manager', 'scheduler']) rmSync(join(workDir, sub), { recursive: true, force: true });
  const pki = join(workDir, 'pki');
  const logsDir = join(workDir, 'logs');
  for (const d of [workDir, pki, logsDir]) mkdirSync(d, { recursive: true, mode: 0o700 });

  const statePath = join(stateDir, `${process.pid}-${randomBytes(4).toString('hex')}.json`);
  const procs: ManagedProcess[] = [];
  let realNode: RealNode | undefined;
  let stopping: Promise<void> | undefined;
  const saveState = (): void =>
    writeClusterState(statePath, {
      ownerPid: process.pid,
      ownerStartTicks: procStartTicks(process.pid) ?? '',
      workDir,
      removeWorkDir,
      processes: procs.map((p) => ({ name: p.name, pid: p.pid, exe: p.exe, startTicks: p.startTicks })),
    });

  let unregister = (): void => {};
  const handle = {
    killNow(): void {
      for (const p of procs) p.killNow();
      rmSync(statePath, { force: true });
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        log('local cluster: stopping');
        if (realNode) {
          try {
            await realNode.stop();
          } catch (e) {
            log(`local cluster: real node stop failed: ${(e as Error).message}`);
          }
        }
        // Reverse start order: clients of the apiserver first, etcd last.
        for (const p of [...procs].reverse()) {
          const t = Date.now();
          await p.stop();
          if (Date.now() - t > 2000) log(`local cluster: ${p.name} took ${Date.now() - t} ms to stop`);
        }
        unregister();
        rmSync(statePath, { force: true });
        if (removeWorkDir) rmSync(workDir, { recursive: true, force: true });
        log('local cluster: stopped');
      })();
      return stopping;
    },
  };
  unregister = registerTeardown(handle);
  saveState();

  const start = (name: string, exe: string, args: string[], env?: NodeJS.ProcessEnv): ManagedProcess => {
    const p = startManagedProcess({ name, exe, args, logPath: join(logsDir, `${name}.log`), cwd: workDir, env });
    procs.push(p);
    saveState();
    log(`local cluster: started ${name} (pid ${p.pid}), log ${p.logPath}`);
    return p;
  };

  try {
    const t0 = Date.now();
    const advertiseAddress = hostAddress();
    // The apiserver listens on all interfaces: pods in their network namespaces reach it at the advertised host address.
    const ports = await freePorts(['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1', '0.0.0.0', '0.0.0.0', '127.0.0.1', '127.0.0.1', '127.0.0.1']);
    const [etcdClientPort, etcdPeerPort, cmPort, schedPort, apiPort, kubeletPort, kubeletHealthzPort, proxyMetricsPort, proxyHealthzPort] = ports as [
      number, number, number, number, number, number, number, number, number,
    ];
    const server = `https://127.0.0.1:${apiPort}`;

    // PKI: one CA signs the apiserver's serving certificate and every client certificate; a separate key pair signs SA tokens.
    const ca = createCertificateAuthority('skein-local-cluster-ca');
    const ips = ['127.0.0.1', KUBERNETES_SERVICE_IP, advertiseAddress];
    const apiserverCert = issueCertificate(ca, {
      commonName: 'kube-apiserver',
      server: true,
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
      ipAddresses: [...new Set(ips)],
    });
    const admin = issueCertificate(ca, { commonName: 'skein-admin', organizations: ['system:masters'], client: true });
    const cm = issueCertificate(ca, { commonName: 'system:kube-controller-manager', client: true });
    const sched = issueCertificate(ca, { commonName: 'system:kube-scheduler', client: true });
    const nodeCert = issueCertificate(ca, { commonName: `system:node:${LOCAL_NODE_NAME}`, organizations: ['system:nodes'], client: true });
    // The real node's: the kubelet's serving certificate (the apiserver checks it for exec, logs, port-forward), the apiserver's
    // client certificate toward the kubelet, and kube-proxy's (system:kube-proxy is bound to system:node-proxier by default).
    const realNodeCerts =
      nodeKind === 'kubelet'
        ? {
            kubeletServing: issueCertificate(ca, {
              commonName: LOCAL_NODE_NAME,
              server: true,
              dnsNames: [LOCAL_NODE_NAME, 'localhost'],
              ipAddresses: [...new Set([advertiseAddress, '127.0.0.1'])],
            }),
            apiserverKubeletClient: issueCertificate(ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], client: true }),
            kubeProxy: issueCertificate(ca, { commonName: 'system:kube-proxy', client: true }),
          }
        : undefined;
    // The aggregation layer's own CA and client (as kubeadm sets up): the apiserver proxies to extension API servers with it,
    // and components stop complaining about a missing requestheader CA.
    const frontProxyCa = createCertificateAuthority('skein-local-front-proxy-ca');
    const frontProxyClient = issueCertificate(frontProxyCa, { commonName: 'front-proxy-client', client: true });
    const sa = generateRsaKeyPair();
    const files: Record<string, string> = {
      'ca.crt': ca.certPem,
      'ca.key': ca.keyPem,
      'apiserver.crt': apiserverCert.certPem,
      'apiserver.key': apiserverCert.keyPem,
      'front-proxy-ca.crt': frontProxyCa.certPem,
      'front-proxy-client.crt': frontProxyClient.certPem,
      'front-proxy-client.key': frontProxyClient.keyPem,
      'sa.key': sa.keyPem,
      'sa.pub': sa.publicKeyPem,
    };
    if (realNodeCerts) {
      files['kubelet.crt'] = realNodeCerts.kubeletServing.certPem;
      files['kubelet.key'] = realNodeCerts.kubeletServing.keyPem;
      files['apiserver-kubelet-client.crt'] = realNodeCerts.apiserverKubeletClient.certPem;
      files['apiserver-kubelet-client.key'] = realNodeCerts.apiserverKubeletClient.keyPem;
    }
    for (const [f, content] of Object.entries(files)) writeFileSync(join(pki, f), content, { mode: 0o600 });
    const kubeconfigPath = join(workDir, 'admin.kubeconfig');
    const kc = (user: string, client: CertificatePem, file: string): string => {
      const path = join(workDir, file);
      writeFileSync(path, renderKubeconfig({ server, caPem: ca.certPem, user, client }), { mode: 0o600 });
      return path;
    };
    kc('skein-admin', admin, 'admin.kubeconfig');
    const cmKubeconfig = kc('system:kube-controller-manager', cm, 'controller-manager.kubeconfig');
    const schedKubeconfig = kc('system:kube-scheduler', sched, 'scheduler.kubeconfig');
    const nodeKubeconfig = kc(`system:node:${LOCAL_NODE_NAME}`, nodeCert, 'node.kubeconfig');
    const kubeProxyKubeconfig = realNodeCerts ? kc('system:kube-proxy', realNodeCerts.kubeProxy, 'kube-proxy.kubeconfig') : undefined;
    log(`local cluster: PKI and kubeconfigs written to ${workDir} (${Date.now() - t0} ms)`);

    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeer = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = start('etcd', bins.etcd, [
      '--name=skein',
      `--data-dir=${join(workDir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeer}`,
      `--initial-advertise-peer-urls=${etcdPeer}`,
      `--initial-cluster=skein=${etcdPeer}`,
      '--initial-cluster-state=new',
      // A throwaway single-member store: fsync buys nothing here and costs seconds on busy disks.
      '--unsafe-no-fsync',
      '--quota-backend-bytes=2147483648',
      '--log-level=warn',
    ]);
    await waitReady('etcd', etcd, { url: `${etcdUrl}/health` }, 60_000, (b) => b.includes('"health":"true"'));

    const apiserver = start('kube-apiserver', bins.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=0.0.0.0',
      `--secure-port=${apiPort}`,
      `--advertise-address=${advertiseAddress}`,
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${join(pki, 'ca.crt')}`,
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
      '--authorization-mode=Node,RBAC',
      `--requestheader-client-ca-file=${join(pki, 'front-proxy-ca.crt')}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${join(pki, 'front-proxy-client.crt')}`,
      `--proxy-client-key-file=${join(pki, 'front-proxy-client.key')}`,
      // Added to the defaults (NamespaceLifecycle, ServiceAccount, MutatingAdmissionWebhook, ValidatingAdmissionWebhook, ...).
      '--enable-admission-plugins=NodeRestriction',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--allow-privileged=true',
      // Aggregated APIs addressed by Service are dialled at an endpoint (pod IP, routed over the node's bridge) rather than the
      // ClusterIP, so they answer before kube-proxy has programmed the Service.
      '--enable-aggregator-routing=true',
      `--cert-dir=${join(workDir, 'apiserver-certs')}`,
      '--profiling=false',
      '--v=1',
      // exec, logs and port-forward go through the kubelet: the apiserver authenticates with a client certificate and checks
      // the kubelet's serving certificate against the cluster CA.
      ...(realNodeCerts
        ? [
            `--kubelet-client-certificate=${join(pki, 'apiserver-kubelet-client.crt')}`,
            `--kubelet-client-key=${join(pki, 'apiserver-kubelet-client.key')}`,
            `--kubelet-certificate-authority=${join(pki, 'ca.crt')}`,
            '--kubelet-preferred-address-types=InternalIP,Hostname',
          ]
        : []),
    ]);
    const adminProbe = (path: string): Probe => ({ url: `${server}${path}`, ca: ca.certPem, client: admin });
    await waitReady('kube-apiserver', apiserver, adminProbe('/readyz'), 180_000, (b) => b.trim() === 'ok');
    log(`local cluster: kube-apiserver ready at ${server} (${Date.now() - t0} ms)`);

    const servingArgs = (port: number, kubeconfig: string, name: string): string[] => [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${join(workDir, name)}`,
      // One instance: skipping leader election saves the lease wait at every start.
      '--leader-elect=false',
      '--profiling=false',
      '--v=1',
    ];
    const controllerManager = start('kube-controller-manager', bins.kubeControllerManager, [
      ...servingArgs(cmPort, cmKubeconfig, 'controller-manager'),
      `--service-account-private-key-file=${join(pki, 'sa.key')}`,
      `--root-ca-file=${join(pki, 'ca.crt')}`,
      '--use-service-account-credentials=true',
      `--cluster-signing-cert-file=${join(pki, 'ca.crt')}`,
      `--cluster-signing-key-file=${join(pki, 'ca.key')}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      // The node's CNI config brings its own pod CIDR (host-local); the IPAM controller stays off.
      '--allocate-node-cidrs=false',
    ]);
    const scheduler = start('kube-scheduler', bins.kubeScheduler, servingArgs(schedPort, schedKubeconfig, 'scheduler'));
    await waitReady('kube-controller-manager', controllerManager, { url: `https://127.0.0.1:${cmPort}/healthz` }, 120_000);
    await waitReady('kube-scheduler', scheduler, { url: `https://127.0.0.1:${schedPort}/healthz` }, 120_000);
    // Pods can only be created once the service-account controller made the namespace's default ServiceAccount.
    await waitReady('the default ServiceAccount', controllerManager, adminProbe('/api/v1/namespaces/default/serviceaccounts/default'), 120_000);
    log(`local cluster: control plane ready (${Date.now() - t0} ms)`);

    let nodeName: string | undefined;
    if (nodeKind === 'kubelet' && nodeBins && kubeProxyKubeconfig) {
      realNode = await startRealNode({
        root: join(workDir, 'node'),
        stateDir,
        nodeName: LOCAL_NODE_NAME,
        nodeIp: advertiseAddress,
        bins: nodeBins,
        kubeletKubeconfig: nodeKubeconfig,
        kubeProxyKubeconfig,
        caFile: join(pki, 'ca.crt'),
        servingCertFile: join(pki, 'kubelet.crt'),
        servingKeyFile: join(pki, 'kubelet.key'),
        apiProbe: { server, ca: ca.certPem, client: admin },
        ports: { kubelet: kubeletPort, kubeletHealthz: kubeletHealthzPort, proxyMetrics: proxyMetricsPort, proxyHealthz: proxyHealthzPort },
        clusterDns: [CLUSTER_DNS_IP],
        start,
        log,
        waitMs: opts.nodeWaitMs,
      });
      nodeName = LOCAL_NODE_NAME;
      log(`local cluster: real node ${LOCAL_NODE_NAME} ready (${Date.now() - t0} ms)`);
      // Cluster DNS before returning: a pod created by the caller must resolve Service names from its first query.
      await deployClusterDns({ kubeconfigPath, image: realNode.corednsImage, log });
      log(`local cluster: cluster DNS (CoreDNS) answering at ${CLUSTER_DNS_IP} (${Date.now() - t0} ms)`);
    }

    const logs = Object.fromEntries(procs.map((p) => [p.name, p.logPath]));
    return {
      kubeconfigPath,
      server,
      workDir,
      apiserverPort: apiPort,
      advertiseAddress,
      caCertPath: join(pki, 'ca.crt'),
      etcdUrl,
      logs,
      processes: procs.map((p) => ({ name: p.name, pid: p.pid })),
      nodeName,
      nodeKind,
      ...(realNode
        ? { realNode: { images: realNode.images, timings: realNode.timings, containerdSocket: realNode.containerdSocket, corednsImage: realNode.corednsImage } }
        : {}),
      ...(nodeBins ? { kubectl: nodeBins.kubectl } : {}),
      stop: () => handle.stop(),
    };
  } catch (e) {
    log(`local cluster: start failed: ${(e as Error).message}`);
    log(`local cluster: component logs: ${procs.map((p) => p.logPath).join(', ') || '(none started)'}`);
    // Keep the work dir (its logs explain the failure) but stop every process.
    const keep = removeWorkDir;
    if (keep) log(`local cluster: keeping ${workDir} for inspection`);
    stopping ??= (async () => {
      if (realNode) await realNode.stop().catch(() => {});
      for (const p of [...procs].reverse()) await p.stop(5000);
      unregister();
      rmSync(statePath, { force: true });
    })();
    await stopping;
    throw e;
  }
}
