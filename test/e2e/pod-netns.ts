// Runs a host command inside a pod's network namespace on the real node: the pid of one of its running containers, from containerd.
import type * as k8s from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';

/** The host pid of a running container of `pod` (any: they share the pod's network namespace). */
export function podPid(containerdSocket: string, pod: k8s.V1Pod): number {
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  const ids = new Set(statuses.filter((s) => s.state?.running && s.containerID).map((s) => s.containerID!.replace(/^containerd:\/\//, '')));
  if (ids.size === 0) throw new Error(`no running container in ${pod.metadata?.namespace}/${pod.metadata?.name}`);
  const tasks = execFileSync('/usr/bin/ctr', ['--address', containerdSocket, '--namespace', 'k8s.io', 'tasks', 'ls'], { encoding: 'utf8' });
  for (const line of tasks.split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id && ids.has(id) && status === 'RUNNING' && Number(pid) > 0) return Number(pid);
  }
  throw new Error(`containerd lists no running task for ${pod.metadata?.name} (${[...ids].join(', ')})`);
}

/** A host program (iptables-save, curl) run in the pod's network namespace; the host's mount namespace, so the host's binaries. */
export function inPodNetns(containerdSocket: string, pod: k8s.V1Pod, command: readonly string[]): string {
  return execFileSync('nsenter', ['-t', String(podPid(containerdSocket, pod)), '-n', '--', ...command], { encoding: 'utf8', timeout: 30_000 });
}
