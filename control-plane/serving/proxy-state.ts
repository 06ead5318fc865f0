// One connected proxy as the server tracks it: what it acknowledged, what is in flight, what it rejected and why.
import type { NackReason } from '../../api/proto/config-discovery.ts';
import type { ProxyIdentity } from './snapshot-source.ts';

export type SyncStatus = 'SYNCED' | 'STALE' | 'NACKED';

/** What /debug/proxies shows and `skein proxy-status` prints. */
export interface ProxyStatusView {
  readonly id: string;
  readonly podName: string;
  readonly namespace: string;
  readonly podIp: string;
  readonly serviceAccount: string;
  readonly replica: string;
  readonly status: SyncStatus;
  /** Version of the proxy's whole resource set it last acknowledged ('' before the first ACK). */
  readonly ackedVersion: string;
  /** The version the control plane wants it to hold. */
  readonly latestVersion: string;
  readonly nackedVersion: string;
  readonly nackReasons: readonly NackReason[];
  readonly resources: number;
  readonly connectedAt: string;
  readonly lastContactAt: string;
  readonly pushes: number;
  readonly acks: number;
  readonly nacks: number;
}

export interface InFlightPush {
  readonly nonce: string;
  readonly version: string;
  /** key -> version the proxy will hold once it ACKs. */
  readonly versions: ReadonlyMap<string, string>;
  readonly sentAt: number;
}

export class ProxyState {
  readonly identity: ProxyIdentity;
  readonly connectedAt: number;
  lastContactAt: number;
  /** key -> version of what the proxy holds (its Hello, then each ACK). */
  acked: ReadonlyMap<string, string>;
  /** `acked` is exactly the resource set of version `ackedVersion` (after an ACK; not after a Hello's own list). */
  ackedExact = false;
  ackedVersion = '';
  latestVersion = '';
  inFlight: InFlightPush | null = null;
  /** A change arrived while a push was in flight: push again once it is answered. */
  dirty = false;
  /** Waiting for room in the server's write budget (nothing of it written yet). */
  queued = false;
  nackedVersion = '';
  nackReasons: readonly NackReason[] = [];
  pushes = 0;
  acks = 0;
  nacks = 0;
  closed = false;

  constructor(identity: ProxyIdentity, known: ReadonlyMap<string, string>, now: number) {
    this.identity = identity;
    this.acked = new Map(known);
    this.connectedAt = now;
    this.lastContactAt = now;
  }

  get status(): SyncStatus {
    if (this.nackedVersion !== '' && this.nackedVersion === this.latestVersion && this.inFlight === null) return 'NACKED';
    if (this.inFlight === null && !this.dirty && !this.queued && this.ackedVersion === this.latestVersion && this.latestVersion !== '') return 'SYNCED';
    return 'STALE';
  }

  view(replica: string): ProxyStatusView {
    const i = this.identity;
    return {
      id: i.id,
      podName: i.podName,
      namespace: i.namespace,
      podIp: i.podIp,
      serviceAccount: i.serviceAccount,
      replica,
      status: this.status,
      ackedVersion: this.ackedVersion,
      latestVersion: this.latestVersion,
      nackedVersion: this.nackedVersion,
      nackReasons: this.nackReasons,
      resources: this.acked.size,
      connectedAt: new Date(this.connectedAt).toISOString(),
      lastContactAt: new Date(this.lastContactAt).toISOString(),
      pushes: this.pushes,
      acks: this.acks,
      nacks: this.nacks,
    };
  }
}
