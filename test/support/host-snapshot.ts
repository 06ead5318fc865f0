// A snapshot of the host state a Kubernetes node can change (iptables, mounts, netns, links, processes, cgroups, sysctls, folders),
// for tests that check a teardown left the machine as it found it. Scoped away from what other clusters on a shared machine
// change at the same time (the node agent's `skein-*` namespaces, links and chains; other tests' loopback servers).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { expect } from 'vitest';
import { existingNodeCgroups, mountPoints, netnsNames } from '../../local-cluster/real-node/host-cleanup.ts';
import { HOST_DIRS } from '../../local-cluster/real-node/real-node-state.ts';

export interface HostSnapshot {
  /** Rules and user chains (counters dropped), per front end and table; empty builtin chains say nothing and are left out. */
  readonly iptables: readonly string[];
  readonly mounts: readonly string[];
  readonly netns: readonly string[];
  readonly links: readonly string[];
  readonly processes: readonly string[];
  readonly cgroups: readonly string[];
  readonly sysctls: Readonly<Record<string, string>>;
  readonly hostDirs: Readonly<Record<string, boolean>>;
}

/** What a node agent (the retired node of an older checkout, run by someone else on this machine) owns: never ours to compare. */
const NODE_AGENT = /(^|[^A-Za-z])(skein-br|skein-[0-9a-f]|SKEIN)/;

function iptablesLines(): string[] {
  const out: string[] = [];
  for (const cmd of ['iptables-save', 'ip6tables-save', 'iptables-legacy-save', 'ip6tables-legacy-save']) {
    const r = spawnSync(cmd, [], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    let table = '';
    for (const line of r.stdout.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1);
      else if (line.startsWith(':')) {
        const [chain, policy] = line.slice(1).split(' ');
        // A builtin chain (it has a policy) matters only if its policy changed.
        if (policy === '-') out.push(`${cmd} ${table} chain ${chain}`);
        else if (policy !== 'ACCEPT') out.push(`${cmd} ${table} policy ${chain} ${policy}`);
      } else if (line.startsWith('-A ')) out.push(`${cmd} ${table} ${line}`);
    }
  }
  return out.filter((l) => !NODE_AGENT.test(l)).sort();
}

/** Mounts a node could leave: the kubelet's, containerd's snapshots, pod volumes, network namespace files. */
function nodeMounts(): string[] {
  const types = new Map<string, string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep > 0) types.set(f[4]!, f[sep + 1]!);
  }
  return mountPoints()
    .filter((m) => /kubelet|containerd|kubepods|k8s\.io|\/netns|\/node\//.test(m) || ['overlay', 'nsfs'].includes(types.get(m) ?? ''))
    .filter((m) => !basename(m).startsWith('skein-'))
    .sort();
}

/** Processes of a node: the daemons, shims, runc, pause, and anything in the node's cgroups. */
function nodeProcesses(): string[] {
  const names = new Set(['containerd', 'containerd-shim', 'containerd-shim-runc-v2', 'kubelet', 'kube-proxy', 'runc', 'pause', 'ctr']);
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      // A zombie (killed, not yet reaped by a PID 1 that never reaps) holds nothing: it does not count.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      if (names.has(comm) || /kubepods|k8s\.io/.test(cgroup)) out.push(`${pid} ${comm} ${readlinkSync(`/proc/${pid}/exe`)}`);
    } catch {}
  }
  return out.sort();
}

/** Values that change on their own (counters, random numbers) or belong to interfaces that come and go. */
function volatileSysctl(key: string): boolean {
  if (/^(fs\.(dentry-state|file-nr|inode-nr|inode-state|quota\.)|kernel\.(ns_last_pid|random\.|pty\.nr)|net\.netfilter\.nf_conntrack_count)/.test(key)) return true;
  const iface = /^net\.ipv[46]\.(conf|neigh)\.([^.]+)\./.exec(key)?.[2];
  return iface !== undefined && !['all', 'default', 'lo', 'eth0'].includes(iface);
}

function sysctls(): Record<string, string> {
  const r = spawnSync('sysctl', ['-a'], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf(' = ');
    if (i < 0) continue;
    const key = line.slice(0, i);
    if (!volatileSysctl(key)) out[key] = line.slice(i + 3);
  }
  return out;
}

function links(): string[] {
  return readdirSync('/sys/class/net')
    .filter((n) => !n.startsWith('skein-') || n === 'skein-cni0')
    .sort();
}

export function hostSnapshot(): HostSnapshot {
  return {
    iptables: iptablesLines(),
    mounts: nodeMounts(),
    netns: netnsNames().filter((n) => !n.startsWith('skein-')),
    links: links(),
    processes: nodeProcesses(),
    cgroups: existingNodeCgroups(),
    sysctls: sysctls(),
    hostDirs: Object.fromEntries(Object.entries(HOST_DIRS).map(([k, p]) => [k, existsSync(p)])),
  };
}

/** Asserts part by part (so a failure names the part) that the host is as `before` found it. */
export function expectHostUnchanged(after: HostSnapshot, before: HostSnapshot): void {
  expect(after.iptables).toEqual(before.iptables);
  expect(after.mounts).toEqual(before.mounts);
  expect(after.netns).toEqual(before.netns);
  expect(after.links).toEqual(before.links);
  expect(after.processes).toEqual(before.processes);
  expect(after.cgroups).toEqual(before.cgroups);
  expect(after.hostDirs).toEqual(before.hostDirs);
  expect(after.sysctls).toEqual(before.sysctls);
}
