// Removes what a real node leaves on the host: iptables chains and rules, mounts, network namespaces, the bridge, cgroups,
// shims and containers, files outside the work dir, and changed sysctls; the same code serves an orderly stop and a crashed run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Chains the kubelet (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT), kube-proxy (KUBE-*) and the CNI plugins (CNI-*) make. */
export const NODE_CHAIN = /^(KUBE-|CNI-)/;

/**
 * Sysctls the kubelet, kube-proxy and the CNI plugins may change machine-wide: recorded before the node starts, put back after.
 * (The kubelet sets kernel.panic=10, kernel.panic_on_oops=1, vm.overcommit_memory=1 and the keys limits; the bridge plugin
 * turns on forwarding; kube-proxy would touch route_localnet and conntrack, which its config tells it not to.)
 */
export const NODE_SYSCTLS = [
  'kernel.panic',
  'kernel.panic_on_oops',
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.ipv4.conf.all.forwarding',
  'net.ipv4.conf.default.forwarding',
  'net.ipv4.conf.all.route_localnet',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_tcp_timeout_established',
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait',
] as const;

const sysctlPath = (key: string): string => join('/proc/sys', ...key.split('.'));

/** The current values of `keys` (absent keys are left out: a module not loaded, no IPv6). */
export function readSysctls(keys: readonly string[] = NODE_SYSCTLS): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    try {
      out[k] = readFileSync(sysctlPath(k), 'utf8').trim();
    } catch {}
  }
  return out;
}

/** Puts back every recorded value that differs now; returns the keys restored. */
export function restoreSysctls(before: Readonly<Record<string, string>>, log: (line: string) => void): string[] {
  const now = readSysctls(Object.keys(before));
  const restored: string[] = [];
  for (const [k, v] of Object.entries(before)) {
    if (now[k] === undefined || now[k] === v) continue;
    try {
      writeFileSync(sysctlPath(k), v);
      restored.push(k);
      log(`real node: restored ${k} = ${v} (was ${now[k]})`);
    } catch (e) {
      log(`real node: could not restore ${k} = ${v}: ${(e as Error).message}`);
    }
  }
  return restored;
}

/**
 * From `iptables-save` output (all tables), the `iptables-restore --noflush` input that removes our chains: first every rule of
 * another chain that jumps to one of ours, then our chains' rules, then the chains. Undefined when nothing is ours.
 */
export function iptablesCleanupScript(save: string, ours: RegExp = NODE_CHAIN): string | undefined {
  let out = '';
  let table: string | undefined;
  let chains: string[] = [];
  let deletes: string[] = [];
  const flushTable = (): void => {
    if (table && (chains.length > 0 || deletes.length > 0)) {
      out += `*${table}\n${deletes.join('\n')}${deletes.length ? '\n' : ''}`;
      for (const c of chains) out += `-F ${c}\n`;
      for (const c of chains) out += `-X ${c}\n`;
      out += 'COMMIT\n';
    }
    chains = [];
    deletes = [];
  };
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      flushTable();
      table = line.slice(1).trim();
    } else if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0]!;
      if (ours.test(name)) chains.push(name);
    } else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1]!;
      if (ours.test(chain)) continue; // flushed with its chain
      const target = / -[jg] (\S+)/.exec(line)?.[1];
      if (target && ours.test(target)) deletes.push(`-D ${line.slice(3)}`);
    } else if (line.startsWith('COMMIT')) {
      flushTable();
      table = undefined;
    }
  }
  return out || undefined;
}

/** The iptables front ends present: the default (nft on Debian 12) for IPv4 and IPv6, and the legacy ones if installed. */
function iptablesFlavours(): { save: string; restore: string }[] {
  const out: { save: string; restore: string }[] = [];
  for (const [save, restore] of [
    ['iptables-save', 'iptables-restore'],
    ['ip6tables-save', 'ip6tables-restore'],
    ['iptables-legacy-save', 'iptables-legacy-restore'],
    ['ip6tables-legacy-save', 'ip6tables-legacy-restore'],
  ] as const) {
    const dir = ['/usr/sbin', '/sbin', '/usr/bin'].find((d) => existsSync(join(d, save)) && existsSync(join(d, restore)));
    if (dir) out.push({ save: join(dir, save), restore: join(dir, restore) });
  }
  return out;
}

/** Every KUBE-* and CNI-* chain and the rules that jump to them, in every table, IPv4 and IPv6, both backends. */
export function removeNodeIptables(log: (line: string) => void): number {
  let removed = 0;
  for (const f of iptablesFlavours()) {
    const save = spawnSync(f.save, [], { encoding: 'utf8' });
    if (save.status !== 0) continue;
    const script = iptablesCleanupScript(save.stdout);
    if (!script) continue;
    const r = spawnSync(f.restore, ['--noflush'], { input: script, encoding: 'utf8' });
    if (r.status !== 0) log(`real node: ${f.restore} failed: ${r.stderr.trim()}`);
    else removed += (script.match(/^-X /gm) ?? []).length;
  }
  return removed;
}

/** Mount points (decoded) from /proc/self/mountinfo. */
export function mountPoints(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.push(f[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/** Lazily unmounts every mount at or under one of `prefixes`, deepest first (a bind of the kubelet's root dir included). */
export function unmountUnder(prefixes: readonly string[], log: (line: string) => void): number {
  let n = 0;
  // Several rounds: a path mounted twice (the kubelet's self-bind) needs one umount per layer.
  for (let round = 0; round < 5; round++) {
    const hits = mountPoints()
      .filter((m) => prefixes.some((p) => m === p || m.startsWith(`${p}/`)))
      .sort((a, b) => b.length - a.length);
    if (hits.length === 0) break;
    for (const m of [...new Set(hits)]) {
      const r = spawnSync('umount', ['-l', m], { encoding: 'utf8' });
      if (r.status === 0) n++;
      else if (round === 4) log(`real node: could not unmount ${m}: ${r.stderr.trim()}`);
    }
  }
  return n;
}

export const NETNS_DIR = '/run/netns';

/** Names in /run/netns. */
export function netnsNames(): string[] {
  try {
    return readdirSync(NETNS_DIR).sort();
  } catch {
    return [];
  }
}

/** Deletes the `cni-*` network namespaces (the pods' veths go with them) that were not there before the node started. */
export function removeNodeNetns(before: readonly string[], log: (line: string) => void): number {
  let n = 0;
  for (const name of netnsNames()) {
    if (!name.startsWith('cni-') || before.includes(name)) continue;
    const r = spawnSync('ip', ['netns', 'delete', name], { encoding: 'utf8' });
    if (r.status !== 0) {
      spawnSync('umount', ['-l', join(NETNS_DIR, name)]);
      rmSync(join(NETNS_DIR, name), { force: true });
    }
    n++;
  }
  if (n > 0) log(`real node: removed ${n} pod network namespace(s)`);
  return n;
}

export function linkExists(name: string): boolean {
  return existsSync(join('/sys/class/net', name));
}

export function removeLink(name: string, log: (line: string) => void): void {
  if (!linkExists(name)) return;
  const r = spawnSync('ip', ['link', 'delete', name], { encoding: 'utf8' });
  if (r.status !== 0) log(`real node: could not delete link ${name}: ${r.stderr.trim()}`);
}

/** Each mounted cgroup hierarchy (v1 controllers and the unified one) under /sys/fs/cgroup. */
export function cgroupHierarchies(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep > 0 && (f[sep + 1] === 'cgroup' || f[sep + 1] === 'cgroup2')) out.push(f[4]!);
  }
  return out.sort();
}

/** The node's top-level cgroups (kubepods, and containerd's k8s.io) in each hierarchy. */
export const NODE_CGROUPS = ['kubepods', 'k8s.io'] as const;

/** Which of the node's cgroups exist now, as paths: what was there before the node must be left alone. */
export function existingNodeCgroups(): string[] {
  return cgroupHierarchies().flatMap((h) => NODE_CGROUPS.map((c) => join(h, c)).filter((p) => existsSync(p)));
}

function cgroupDirs(top: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    out.push(d);
    let names: string[] = [];
    try {
      names = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {}
    for (const n of names) walk(join(d, n));
  };
  walk(top);
  return out;
}

function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** SIGKILLs every process in the node's cgroups that were not there before (pods' containers and pause processes). */
export function killNodeCgroupProcesses(before: readonly string[]): number {
  let n = 0;
  for (const top of existingNodeCgroups()) {
    if (before.includes(top)) continue;
    for (const d of cgroupDirs(top)) {
      for (const pid of cgroupPids(d)) {
        try {
          process.kill(pid, 'SIGKILL');
          n++;
        } catch {}
      }
    }
  }
  return n;
}

/** Removes the node's cgroups that were not there before, deepest first; a cgroup whose processes are still exiting is retried. */
export async function removeNodeCgroups(before: readonly string[], log: (line: string) => void): Promise<number> {
  let n = 0;
  for (const top of existingNodeCgroups()) {
    if (before.includes(top)) continue;
    const dirs = cgroupDirs(top).sort((a, b) => b.length - a.length);
    for (const d of dirs) {
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(d);
          n++;
          break;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (attempt >= 40) {
            log(`real node: could not remove cgroup ${d}: ${code}`);
            break;
          }
          for (const pid of cgroupPids(d)) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {}
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  }
  return n;
}

/** Processes whose command line mentions `needle` (containerd's shims are started with `-address <our socket>`). */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').some((a) => a.includes(needle))) out.push(Number(name));
    } catch {}
  }
  return out;
}

export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/** Symlinks in `dir` that point into `target` (the kubelet's /var/log/containers links to our pod logs). */
export function removeLinksInto(dir: string, target: string): number {
  let n = 0;
  try {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      try {
        if (readlinkSync(p).startsWith(`${target}/`)) {
          rmSync(p, { force: true });
          n++;
        }
      } catch {}
    }
  } catch {}
  return n;
}

/** Removes `dir` when it is empty (a folder the node created outside its work dir and nobody else used). */
export function removeIfEmpty(dir: string): void {
  try {
    if (statSync(dir).isDirectory() && readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {}
}

/** `kube-proxy --cleanup`: kube-proxy's own removal of its rules in every mode (iptables, ipvs, nftables). */
export function kubeProxyCleanup(kubeProxy: string, log: (line: string) => void): void {
  try {
    execFileSync(kubeProxy, ['--cleanup', '--v=0'], { stdio: 'pipe', timeout: 60_000 });
  } catch (e) {
    log(`real node: kube-proxy --cleanup: ${(e as Error).message.split('\n')[0]}`);
  }
}
