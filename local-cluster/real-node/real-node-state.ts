// The real node's host record: what the host looked like before it started (sysctls, netns, cgroups, folders) and where its
// files are, so an orderly stop and the next start after a crash put the host back; it is also the one-real-node-per-machine lock.
import { existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { procStartTicks } from '../managed-process.ts';
import {
  existingNodeCgroups,
  killAll,
  killNodeCgroupProcesses,
  kubeProxyCleanup,
  netnsNames,
  processesMentioning,
  readSysctls,
  removeIfEmpty,
  removeLink,
  removeLinksInto,
  removeNodeCgroups,
  removeNodeIptables,
  removeNodeNetns,
  restoreSysctls,
  unmountUnder,
} from './host-cleanup.ts';
import { nodeDirs, REAL_NODE_BRIDGE } from './node-configs.ts';

/** Folders outside the work dir that containerd and the kubelet create whatever their config says. */
export const HOST_DIRS = {
  /** libcni's result cache (containerd 1.6 cannot move it). */
  varLibCni: '/var/lib/cni',
  /** The kubelet's links to container logs (a fixed path). */
  varLogContainers: '/var/log/containers',
  /** The runc shims' sockets (/run/containerd/s/<hash>), a fixed path in containerd 1.6. */
  runContainerd: '/run/containerd',
} as const;

export interface RealNodeRecord {
  readonly ownerPid: number;
  readonly ownerStartTicks: string;
  /** The node's work dir (containerd root and state, kubelet root, CNI files, pod logs). */
  readonly root: string;
  readonly kubeProxy?: string;
  readonly before: {
    readonly sysctls: Readonly<Record<string, string>>;
    readonly netns: readonly string[];
    readonly cgroups: readonly string[];
    readonly hostDirs: Readonly<Record<keyof typeof HOST_DIRS, boolean>>;
  };
}

export const recordPath = (stateDir: string): string => join(stateDir, 'real-node.json');

function read(path: string): RealNodeRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RealNodeRecord;
  } catch {
    return undefined;
  }
}

const alive = (pid: number, ticks: string): boolean => ticks !== '' && procStartTicks(pid) === ticks;

/** The pid of the live process that runs this machine's real node, if any. */
export function liveRealNodeOwner(stateDir: string): number | undefined {
  const r = read(recordPath(stateDir));
  return r && alive(r.ownerPid, r.ownerStartTicks) ? r.ownerPid : undefined;
}

/** Puts the host back after a real node whose owner died (crashed, SIGKILLed); returns whether there was one. */
export async function cleanupStaleRealNode(stateDir: string, log: (line: string) => void): Promise<boolean> {
  const path = recordPath(stateDir);
  const prev = read(path);
  if (prev && alive(prev.ownerPid, prev.ownerStartTicks)) return false;
  if (prev) {
    log(`real node: cleaning up the node of process ${prev.ownerPid}, which is gone (${prev.root})`);
    await cleanupRealNodeHost(prev, log);
  }
  if (!existsSync(path)) return false;
  // Removed only when the record is still the dead owner's (or unreadable: a crash mid-write never happens, we link whole files).
  rmSync(path, { force: true });
  return prev !== undefined;
}

/** What the host looks like now, for the parts a node changes. */
export function hostBefore(): RealNodeRecord['before'] {
  return {
    sysctls: readSysctls(),
    netns: netnsNames(),
    cgroups: existingNodeCgroups(),
    hostDirs: {
      varLibCni: existsSync(HOST_DIRS.varLibCni),
      varLogContainers: existsSync(HOST_DIRS.varLogContainers),
      runContainerd: existsSync(HOST_DIRS.runContainerd),
    },
  };
}

/**
 * Takes the machine's real-node lock by creating the record (O_EXCL), after cleaning up a dead owner's node; returns false
 * while a live process holds it.
 */
export async function claimRealNode(stateDir: string, root: string, kubeProxy: string, log: (line: string) => void): Promise<RealNodeRecord | false> {
  const path = recordPath(stateDir);
  if (liveRealNodeOwner(stateDir) !== undefined) return false;
  await cleanupStaleRealNode(stateDir, log);
  const record: RealNodeRecord = { ownerPid: process.pid, ownerStartTicks: procStartTicks(process.pid) ?? '', root, kubeProxy, before: hostBefore() };
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(record, null, 2));
  try {
    // link() is atomic and fails if the name exists: a second starter racing us finds a whole record and waits.
    linkSync(tmp, path);
  } catch {
    return false;
  } finally {
    rmSync(tmp, { force: true });
  }
  return record;
}

export function releaseRealNode(stateDir: string): void {
  const path = recordPath(stateDir);
  const r = read(path);
  if (r?.ownerPid === process.pid) rmSync(path, { force: true });
}

/** Rewrites our record (atomically) when a field is learned later. */
export function updateRecord(stateDir: string, record: RealNodeRecord): void {
  const path = recordPath(stateDir);
  writeFileSync(`${path}.tmp`, JSON.stringify(record, null, 2));
  renameSync(`${path}.tmp`, path);
}

/**
 * Puts the host back: kills the shims and every process in the node's cgroups, removes kube-proxy's, the kubelet's and the CNI
 * plugins' iptables chains, the pods' network namespaces and the bridge, unmounts everything under the work dir, removes the
 * node's cgroups, restores the sysctls and removes the folders the node created outside its work dir.
 */
export async function cleanupRealNodeHost(r: RealNodeRecord, log: (line: string) => void): Promise<void> {
  const t0 = Date.now();
  const steps: string[] = [];
  const step = (what: string): void => {
    steps.push(`${what} ${Date.now() - t0} ms`);
  };
  const d = nodeDirs(r.root);
  // After a crash the kubelet, kube-proxy and containerd may still run (their args name the node's folder): they go first, so
  // nothing recreates what follows is removed; then the containers, then the shims (which name containerd's socket).
  killAll(processesMentioning(r.root));
  killNodeCgroupProcesses(r.before.cgroups);
  killAll(processesMentioning(d.containerdSocket));
  step('processes');
  if (r.kubeProxy && existsSync(r.kubeProxy)) kubeProxyCleanup(r.kubeProxy, log);
  step('kube-proxy --cleanup');
  const chains = removeNodeIptables(log);
  removeNodeNetns(r.before.netns, log);
  removeLink(REAL_NODE_BRIDGE, log);
  step('iptables, netns, bridge');
  const mounts = unmountUnder([r.root], log);
  step('mounts');
  const cgroups = await removeNodeCgroups(r.before.cgroups, log);
  step('cgroups');
  const sysctls = restoreSysctls(r.before.sysctls, log);
  if (!r.before.hostDirs.varLibCni) rmSync(HOST_DIRS.varLibCni, { recursive: true, force: true });
  removeLinksInto(HOST_DIRS.varLogContainers, d.podLogs);
  if (!r.before.hostDirs.varLogContainers) removeIfEmpty(HOST_DIRS.varLogContainers);
  if (!r.before.hostDirs.runContainerd) rmSync(HOST_DIRS.runContainerd, { recursive: true, force: true });
  log(
    `real node: host cleaned in ${Date.now() - t0} ms (${chains} iptables chains, ${mounts} mounts, ${cgroups} cgroups, ` +
      `${sysctls.length} sysctls restored; ${steps.join(', ')})`,
  );
}
