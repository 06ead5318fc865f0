// Unit tests of the real node's configs: the settings this machine needs (issue 15) and every path under the node's own folder.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cniConflist, containerdConfigToml, kubeletConfigYaml, kubeProxyConfigYaml, nodeDirs, REAL_NODE_POD_CIDR } from './node-configs.ts';

const d = nodeDirs('/w/node');

describe('real node configs', () => {
  it('containerd: own root, state and socket; restrict_oom_score_adj; runc without systemd cgroups; our pause image and CNI dir', () => {
    const toml = containerdConfigToml(d, { sandboxImage: 'skein.dev/pause:1', runc: '/usr/sbin/runc' });
    expect(toml).toContain('root = "/w/node/containerd/root"');
    expect(toml).toContain('state = "/w/node/containerd/state"');
    expect(toml).toContain('address = "/w/node/containerd/containerd.sock"');
    expect(toml).toMatch(/^\s*restrict_oom_score_adj = true$/m);
    expect(toml).toMatch(/^\s*SystemdCgroup = false$/m);
    expect(toml).toMatch(/^\s*BinaryName = "\/usr\/sbin\/runc"$/m);
    expect(toml).toContain('sandbox_image = "skein.dev/pause:1"');
    expect(toml).toContain('conf_dir = "/w/node/cni/net.d"');
    // Nothing of containerd's own lands outside the node's folder (the shims' sockets aside: /run/containerd/s, cleaned up).
    for (const m of toml.matchAll(/"(\/[^"]*)"/g)) expect(m[1]!.startsWith('/w/node/') || m[1] === '/usr/sbin/runc' || m[1] === '/usr/lib/cni').toBe(true);
  });

  it('kubelet: failCgroupV1 false, cgroupfs, our containerd socket, x509 + webhook auth, pod logs under the work dir', () => {
    const y = parse(
      kubeletConfigYaml(d, { nodeIp: '10.0.0.2', port: 1, healthzPort: 2, caFile: '/ca', tlsCertFile: '/c', tlsKeyFile: '/k', clusterDns: [] }),
    ) as Record<string, unknown>;
    expect(y).toMatchObject({
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      containerRuntimeEndpoint: 'unix:///w/node/containerd/containerd.sock',
      readOnlyPort: 0,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: '/ca' } },
      authorization: { mode: 'Webhook' },
      podLogsDir: '/w/node/pod-logs',
    });
    expect(y.clusterDNS).toBeUndefined();
  });

  it('kube-proxy: iptables mode, no conntrack sysctls, no localhost NodePorts, the pod CIDR', () => {
    const y = parse(kubeProxyConfigYaml({ kubeconfig: '/kp', nodeName: 'n', metricsPort: 3, healthzPort: 4 })) as Record<string, unknown>;
    expect(y).toMatchObject({
      mode: 'iptables',
      clusterCIDR: REAL_NODE_POD_CIDR,
      conntrack: { maxPerCore: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      iptables: { localhostNodePorts: false },
      healthzBindAddress: '127.0.0.1:4',
    });
  });

  it('CNI: bridge + host-local (leases under the work dir) + portmap', () => {
    const c = JSON.parse(cniConflist(d)) as { plugins: { type: string; ipam?: { type: string; dataDir: string } }[] };
    expect(c.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    expect(c.plugins[0]!.ipam).toMatchObject({ type: 'host-local', dataDir: '/w/node/cni/ipam' });
  });
});
