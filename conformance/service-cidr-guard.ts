// While the suite runs on the host, a connection to a Service address the node's kube-proxy has not programmed yet is
// refused on the host instead of leaving by the default route. Without it, a Gateway's new address (its per-Gateway
// Service, docs/gateway.md) reached in the moment between the EndpointSlice and kube-proxy's rules went to whatever the
// host's network answers there (a bare 404 here), and a gRPC client kept that connection for the whole test. A refused
// connection is retried, as on a cluster network where the Service range leads nowhere else.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SERVICE_CIDR } from '../local-cluster/cluster.ts';

const run = promisify(execFile);

/** KUBE- prefix: the real node's host cleanup (local-cluster/real-node/host-cleanup.ts) removes it with kube-proxy's chains. */
export const GUARD_CHAIN = 'KUBE-SKEIN-CONFORMANCE-GUARD';

/**
 * iptables argument lists that install the guard: in the filter table's OUTPUT, which sees a packet after kube-proxy's DNAT,
 * so only a destination still in the Service range (not programmed) is refused.
 */
export function guardCommands(serviceCidr = SERVICE_CIDR): string[][] {
  return [
    ['-w', '-N', GUARD_CHAIN],
    ['-w', '-A', GUARD_CHAIN, '-d', serviceCidr, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
    ['-w', '-I', 'OUTPUT', '-j', GUARD_CHAIN],
  ];
}

/** The argument lists that remove it (each may fail when already gone). */
export function unguardCommands(): string[][] {
  return [
    ['-w', '-D', 'OUTPUT', '-j', GUARD_CHAIN],
    ['-w', '-F', GUARD_CHAIN],
    ['-w', '-X', GUARD_CHAIN],
  ];
}

export async function guardServiceCidr(): Promise<void> {
  await removeServiceCidrGuard();
  for (const args of guardCommands()) await run('iptables', args);
}

export async function removeServiceCidrGuard(): Promise<void> {
  for (const args of unguardCommands()) await run('iptables', args).catch(() => undefined);
}
