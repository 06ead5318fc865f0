// Builds and removes the node's pod network: one bridge with the pod CIDR's gateway address, and per pod a network namespace
// joined to the bridge by a veth pair (eth0 inside, a `skein-` link outside), plus /etc/netns/<ns>/{hosts,resolv.conf}.
import { mkdirSync, rmSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { HostStateData } from './host-state.ts';
import type { HostTools } from './host-tools.ts';
import { run, runQuiet } from './host-tools.ts';

/** The bridge of node `skein-local` is `skein-br0`; other node names get their own, so two agents (two clusters) can coexist. */
export function bridgeName(nodeName: string): string {
  if (nodeName === 'skein-local') return 'skein-br0';
  return `skein-b${createHash('sha256').update(nodeName).digest('hex').slice(0, 8)}`;
}

export interface PodNetwork {
  readonly netns: string;
  readonly hostVeth: string;
  readonly ip: string;
  readonly prefix: number;
  readonly gateway: string;
}

/** Interface names are capped at 15 bytes: `skein-` + 9 hex characters of the pod UID. */
export function podNetworkNames(podUid: string): { netns: string; hostVeth: string } {
  const hex = podUid.replace(/[^0-9a-f]/gi, '').toLowerCase().padEnd(9, '0');
  return { netns: `skein-${hex.slice(0, 12)}`, hostVeth: `skein-${hex.slice(0, 9)}` };
}

export async function linkExists(tools: HostTools, name: string): Promise<boolean> {
  return runQuiet(tools.ip, ['link', 'show', 'dev', name]);
}

export async function ensureBridge(tools: HostTools, name: string, gateway: string, prefix: number): Promise<void> {
  if (!(await linkExists(tools, name))) await run(tools.ip, ['link', 'add', 'name', name, 'type', 'bridge']);
  await runQuiet(tools.ip, ['addr', 'add', `${gateway}/${prefix}`, 'dev', name]); // already there after a restart: fine
  await run(tools.ip, ['link', 'set', 'dev', name, 'up']);
}

export async function listNetns(tools: HostTools): Promise<string[]> {
  const { stdout } = await run(tools.ip, ['netns', 'list']);
  return stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

export async function createPodNetwork(tools: HostTools, bridge: string, net: PodNetwork): Promise<void> {
  const { netns, hostVeth } = net;
  await run(tools.ip, ['netns', 'add', netns]);
  await run(tools.ip, ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await run(tools.ip, ['link', 'set', 'dev', hostVeth, 'master', bridge, 'up']);
  await run(tools.ip, ['-n', netns, 'link', 'set', 'dev', 'lo', 'up']);
  await run(tools.ip, ['-n', netns, 'addr', 'add', `${net.ip}/${net.prefix}`, 'dev', 'eth0']);
  await run(tools.ip, ['-n', netns, 'link', 'set', 'dev', 'eth0', 'up']);
  await run(tools.ip, ['-n', netns, 'route', 'add', 'default', 'via', net.gateway, 'dev', 'eth0']);
  // Container runtimes let unprivileged processes bind low ports inside a pod; so do we (the sysctl is per network namespace).
  await runQuiet(tools.ip, ['netns', 'exec', netns, tools.sh, '-c', 'echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start']);
}

/** `ip netns exec` bind-mounts these over /etc/hosts and /etc/resolv.conf for every process it starts in the namespace. */
export function writeNetnsEtc(netns: string, hosts: string, resolv: string): void {
  const dir = join('/etc/netns', netns);
  mkdirSync(dir, { recursive: true });
  // In place (same inode), so processes that already run see later updates through their bind mount.
  writeFileSync(join(dir, 'hosts'), hosts);
  writeFileSync(join(dir, 'resolv.conf'), resolv);
}

export function podHostsFile(podName: string, podIp: string, extra: string): string {
  return [
    '# Kubernetes-managed hosts file (written by the Skein node agent).',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `${podIp}\t${podName}`,
    extra,
  ].filter(Boolean).join('\n') + '\n';
}

export function podResolvConf(namespace: string): string {
  // No cluster DNS server: names resolve through the hosts file (pods, services). A lookup that misses fails fast on 127.0.0.1.
  return `search ${namespace}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:1\n`;
}

async function killNetnsProcesses(tools: HostTools, netns: string): Promise<void> {
  let pids: number[];
  try {
    const { stdout } = await run(tools.ip, ['netns', 'pids', netns]);
    pids = stdout.split('\n').filter(Boolean).map(Number).filter((n) => n > 1 && n !== process.pid);
  } catch { return; }
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
}

export async function deletePodNetwork(tools: HostTools, netns: string, hostVeth: string | undefined): Promise<void> {
  await killNetnsProcesses(tools, netns);
  if (hostVeth) await runQuiet(tools.ip, ['link', 'del', 'dev', hostVeth]);
  await runQuiet(tools.ip, ['netns', 'del', netns]);
  rmSync(join('/etc/netns', netns), { recursive: true, force: true });
}

/** Removes what a state record lists: namespaces (and anything still running in them), veths, the bridge, rules, mount points. */
export async function cleanupHostState(tools: HostTools, d: Pick<HostStateData, 'netns' | 'veths' | 'bridge' | 'iptables' | 'mountPoints'>): Promise<void> {
  const existing = new Set(await listNetns(tools).catch(() => [] as string[]));
  for (const ns of d.netns) {
    if (existing.has(ns)) await deletePodNetwork(tools, ns, undefined);
    else rmSync(join('/etc/netns', ns), { recursive: true, force: true });
  }
  for (const v of d.veths) if (await linkExists(tools, v)) await runQuiet(tools.ip, ['link', 'del', 'dev', v]);
  if (d.bridge && (await linkExists(tools, d.bridge))) await runQuiet(tools.ip, ['link', 'del', 'dev', d.bridge]);
  if (tools.iptables) for (const rule of d.iptables) await runQuiet(tools.iptables, ['-w', ...deleteForm(rule)]);
  // Longest first, so a created file or subdirectory goes before the directory that holds it; anything not empty stays.
  for (const p of [...d.mountPoints].sort((a, b) => b.length - a.length)) {
    try {
      const st = statSync(p);
      if (st.isDirectory()) rmdirSync(p);
      else if (st.size === 0) unlinkSync(p);
    } catch { /* not empty or gone: leave it */ }
  }
}

/** A recorded rule is `[-t, table, chain, ...spec]`; deleting it swaps in `-D`. */
function deleteForm(rule: readonly string[]): string[] {
  if (rule[0] === '-t') return ['-t', rule[1]!, '-D', ...rule.slice(2)];
  return ['-D', ...rule];
}
