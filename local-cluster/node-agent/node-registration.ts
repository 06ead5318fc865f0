// Registers this agent's Node (capacity, podCIDR, addresses, Ready) and keeps it Ready: a Lease in kube-node-lease renewed every
// 10 s plus a status heartbeat every 30 s, which is what the node lifecycle controller watches.
import { cpus, totalmem, hostname } from 'node:os';
import type { CoordinationV1Api, CoreV1Api, V1Lease, V1Node } from '@kubernetes/client-node';
import { PatchStrategy, V1MicroTime, setHeaderOptions } from '@kubernetes/client-node';

export interface NodeRegistrationOptions {
  readonly nodeName: string;
  readonly podCidr: string;
  readonly internalIp: string;
  readonly kubeletVersion: string;
  readonly maxPods: number;
  /** Where the API server reaches our kubelet-API sliver (container logs); 0 when it is not running. */
  readonly kubeletPort: number;
  readonly log: (line: string) => void;
}

const LEASE_NS = 'kube-node-lease';
const LEASE_SECONDS = 40;

// Lease times are MicroTime: six fractional digits, which V1MicroTime's toISOString produces.
function microTime(): Date {
  return new V1MicroTime();
}

function statusCode(e: unknown): number | undefined {
  return (e as { code?: number }).code;
}

export function nodeConditions(now: string): Record<string, unknown>[] {
  const c = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'node agent has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'node agent has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'node agent has sufficient PID available'),
    c('Ready', 'True', 'KubeletReady', 'Skein node agent is posting ready status'),
  ];
}

export class NodeRegistration {
  readonly #core: CoreV1Api;
  readonly #coord: CoordinationV1Api;
  readonly #o: NodeRegistrationOptions;
  #timers: NodeJS.Timeout[] = [];
  #nodeUid: string | undefined;
  #transitions: string | undefined;

  constructor(core: CoreV1Api, coord: CoordinationV1Api, opts: NodeRegistrationOptions) {
    this.#core = core;
    this.#coord = coord;
    this.#o = opts;
  }

  #status(): Record<string, unknown> {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.#transitions ??= now;
    const conditions = nodeConditions(now).map((c) => ({ ...c, lastTransitionTime: this.#transitions }));
    const capacity = {
      cpu: String(cpus().length),
      memory: `${Math.floor(totalmem() / 1024)}Ki`,
      pods: String(this.#o.maxPods),
      'ephemeral-storage': '20Gi',
    };
    return {
      capacity, allocatable: capacity, conditions,
      // No Hostname address: the API server prefers it for kubelet calls and the node name does not resolve.
      addresses: [{ type: 'InternalIP', address: this.#o.internalIp }],
      daemonEndpoints: { kubeletEndpoint: { Port: this.#o.kubeletPort } },
      nodeInfo: {
        machineID: '', systemUUID: '', bootID: '', kernelVersion: '', osImage: `Skein node agent on ${hostname()}`,
        containerRuntimeVersion: 'skein-node-agent://0.1.0', kubeletVersion: this.#o.kubeletVersion, kubeProxyVersion: '',
        operatingSystem: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      },
    };
  }

  async register(): Promise<void> {
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const body = {
      apiVersion: 'v1', kind: 'Node',
      metadata: {
        name: this.#o.nodeName,
        labels: { 'kubernetes.io/hostname': this.#o.nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': arch, 'skein.dev/node-agent': 'true' },
      },
      spec: { podCIDR: this.#o.podCidr, podCIDRs: [this.#o.podCidr] },
      status: this.#status(),
    } as unknown as V1Node;
    try {
      const n = await this.#core.createNode({ body });
      this.#nodeUid = n.metadata?.uid;
    } catch (e) {
      if (statusCode(e) !== 409) throw e;
      const n = await this.#core.readNode({ name: this.#o.nodeName });
      this.#nodeUid = n.metadata?.uid;
    }
    await this.#postStatus();
    await this.#renewLease();
    const lease = setInterval(() => { this.#renewLease().catch((e: unknown) => this.#o.log(`lease renew failed: ${(e as Error).message}`)); }, 10_000);
    const status = setInterval(() => { this.#postStatus().catch((e: unknown) => this.#o.log(`node status update failed: ${(e as Error).message}`)); }, 30_000);
    lease.unref();
    status.unref();
    this.#timers.push(lease, status);
  }

  async #postStatus(): Promise<void> {
    await this.#core.patchNodeStatus({ name: this.#o.nodeName, body: { status: this.#status() } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }

  async #renewLease(): Promise<void> {
    const name = this.#o.nodeName;
    const spec = { holderIdentity: name, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime() };
    try {
      const cur = await this.#coord.readNamespacedLease({ name, namespace: LEASE_NS });
      cur.spec = { ...cur.spec, ...spec };
      await this.#coord.replaceNamespacedLease({ name, namespace: LEASE_NS, body: cur });
    } catch (e) {
      if (statusCode(e) !== 404) throw e;
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
        metadata: { name, namespace: LEASE_NS, ownerReferences: this.#nodeUid ? [{ apiVersion: 'v1', kind: 'Node', name, uid: this.#nodeUid }] : [] },
        spec,
      };
      await this.#coord.createNamespacedLease({ namespace: LEASE_NS, body });
    }
  }

  /** Stops the heartbeats and removes the Node and its Lease. */
  async deregister(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await this.#coord.deleteNamespacedLease({ name: this.#o.nodeName, namespace: LEASE_NS }).catch(() => undefined);
    await this.#core.deleteNode({ name: this.#o.nodeName }).catch((e: unknown) => {
      if (statusCode(e) !== 404) this.#o.log(`deleting node ${this.#o.nodeName} failed: ${(e as Error).message}`);
    });
  }
}
