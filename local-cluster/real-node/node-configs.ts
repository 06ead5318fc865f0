// The real node's configuration files (containerd, kubelet, kube-proxy, CNI), as pure functions of the node's folders and addresses.
import { join } from 'node:path';
import { stringify } from 'yaml';

/** Bridge and pod CIDR of the real node (apart from the retired node agent's skein-br0 and 10.244.0.0/24, which an older checkout may still run). */
export const REAL_NODE_BRIDGE = 'skein-cni0';
export const REAL_NODE_POD_CIDR = '10.245.0.0/24';
/** The CNI network's name: host-local keeps its leases under <cni dir>/ipam/<name>; the bridge plugin's iptables chains are CNI-*. */
export const REAL_NODE_CNI_NETWORK = 'skein-pods';
export const CNI_BIN_DIR = '/usr/lib/cni';

/** Every folder the node writes to lives under its own work dir: nothing shared with a system containerd or kubelet. */
export interface NodeDirs {
  readonly root: string;
  readonly containerdRoot: string;
  readonly containerdState: string;
  readonly containerdSocket: string;
  readonly containerdConfig: string;
  readonly runcRoot: string;
  readonly cniConfDir: string;
  readonly cniIpamDir: string;
  readonly kubeletRoot: string;
  readonly kubeletConfig: string;
  readonly podLogs: string;
  readonly kubeProxyConfig: string;
}

export function nodeDirs(root: string): NodeDirs {
  return {
    root,
    containerdRoot: join(root, 'containerd', 'root'),
    containerdState: join(root, 'containerd', 'state'),
    containerdSocket: join(root, 'containerd', 'containerd.sock'),
    containerdConfig: join(root, 'containerd', 'config.toml'),
    runcRoot: join(root, 'containerd', 'runc'),
    cniConfDir: join(root, 'cni', 'net.d'),
    cniIpamDir: join(root, 'cni', 'ipam'),
    kubeletRoot: join(root, 'kubelet'),
    kubeletConfig: join(root, 'kubelet-config.yaml'),
    podLogs: join(root, 'pod-logs'),
    kubeProxyConfig: join(root, 'kube-proxy-config.yaml'),
  };
}

const q = (s: string): string => JSON.stringify(s);

/**
 * containerd's config (version 2, containerd 1.6). restrict_oom_score_adj: without CAP_SYS_RESOURCE every sandbox fails
 * ("can't get final child's PID from pipe: EOF") when the kubelet asks for oom_score_adj -998. SystemdCgroup = false with runc:
 * the kubelet uses cgroupfs, and crun fails on these hybrid cgroups.
 */
export function containerdConfigToml(d: NodeDirs, opts: { sandboxImage: string; runc: string }): string {
  return `# Written by skein local-cluster/real-node: this cluster's own containerd (own root, state and socket).
version = 2
root = ${q(d.containerdRoot)}
state = ${q(d.containerdState)}
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = ${q(d.containerdSocket)}

[ttrpc]
  address = ${q(`${d.containerdSocket}.ttrpc`)}

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(opts.sandboxImage)}
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_unprivileged_ports = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = ${q(opts.runc)}
        Root = ${q(d.runcRoot)}
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${q(CNI_BIN_DIR)}
    conf_dir = ${q(d.cniConfDir)}
    max_conf_num = 1
`;
}

/** The pod network: a bridge with masquerading to the outside, host-local addresses kept under the work dir, hostPorts, loopback. */
export function cniConflist(d: NodeDirs): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: REAL_NODE_CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: REAL_NODE_BRIDGE,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', dataDir: d.cniIpamDir, ranges: [[{ subnet: REAL_NODE_POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export interface KubeletSettings {
  readonly nodeIp: string;
  readonly port: number;
  readonly healthzPort: number;
  readonly caFile: string;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly clusterDns: readonly string[];
}

/**
 * failCgroupV1: false and cgroupDriver: cgroupfs, as this machine's hybrid cgroups need. Eviction thresholds near zero: a shared
 * development machine's disk is not the cluster's to guard, and an evicted test pod is a failure nobody can explain.
 */
export function kubeletConfigYaml(d: NodeDirs, s: KubeletSettings): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    containerRuntimeEndpoint: `unix://${d.containerdSocket}`,
    address: s.nodeIp,
    port: s.port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: s.healthzPort,
    podLogsDir: d.podLogs,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: s.caFile } },
    authorization: { mode: 'Webhook' },
    tlsCertFile: s.tlsCertFile,
    tlsPrivateKeyFile: s.tlsKeyFile,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    clusterDomain: 'cluster.local',
    ...(s.clusterDns.length > 0 ? { clusterDNS: [...s.clusterDns] } : {}),
    resolvConf: '/etc/resolv.conf',
    failSwapOn: false,
    protectKernelDefaults: false,
    evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'nodefs.inodesFree': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    volumePluginDir: join(d.kubeletRoot, 'volume-plugins'),
    // Status every few seconds: tests wait on node and pod status, and one node costs the API server nothing.
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '20s',
    shutdownGracePeriod: '0s',
  });
}

/**
 * kube-proxy in iptables mode, scoped to this cluster: no conntrack sysctls touched (maxPerCore 0, timeouts 0), NodePorts not on
 * localhost (that would set route_localnet machine-wide), metrics and health on loopback ports of our choosing.
 */
export function kubeProxyConfigYaml(s: { kubeconfig: string; nodeName: string; metricsPort: number; healthzPort: number }): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: s.kubeconfig },
    hostnameOverride: s.nodeName,
    clusterCIDR: REAL_NODE_POD_CIDR,
    bindAddress: '127.0.0.1',
    metricsBindAddress: `127.0.0.1:${s.metricsPort}`,
    healthzBindAddress: `127.0.0.1:${s.healthzPort}`,
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { localhostNodePorts: false, masqueradeAll: false, syncPeriod: '30s', minSyncPeriod: '0s' },
    nodePortAddresses: ['primary'],
    detectLocalMode: 'ClusterCIDR',
  });
}
