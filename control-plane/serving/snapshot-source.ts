// What serving needs from translation: who a proxy is, and the resource set it should hold right now.
import type { Result } from '../../api/result.ts';
import type { WireResource } from '../../api/proto/config-discovery.ts';
import type { ControlPlaneError } from '../control-plane-error.ts';

/** A connected proxy as it introduced itself (identity verification arrives with the identity service). */
export interface ProxyIdentity {
  readonly id: string;
  readonly podName: string;
  readonly namespace: string;
  readonly podIp: string;
  readonly serviceAccount: string;
  readonly mode: string;
  /** Ingress mode: the Gateway it serves (`namespace/name`), or '' for every Gateway of Skein's classes. */
  readonly gateway?: string;
}

/** Every resource one proxy should hold, by key "<type>/<name>", and the version of the whole set. */
export interface ProxySnapshot {
  readonly version: string;
  readonly resources: ReadonlyMap<string, WireResource>;
}

export interface SnapshotSource {
  /** Must be cheap for unchanged inputs (translation caches by a key over every input). */
  snapshotFor(proxy: ProxyIdentity): Result<ProxySnapshot, ControlPlaneError>;
}
