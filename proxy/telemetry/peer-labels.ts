// Label values for one end of a request (workload, namespace, identity, Service), interned: each distinct set is one
// object built at config time (or once per peer identity), so the hot path compares objects and never builds strings.
import { workloadOfPod } from '../../api/mesh/workload-name.ts';
import type { DestinationMetadata, WorkloadMetadata } from '../../api/config/telemetry-config.ts';
import { meshEndpointIdentity } from '../identity/mesh-transport.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import type { EndpointHandle, UpstreamCluster } from '../upstream/upstream-cluster.ts';

export interface PeerLabels {
  readonly workload: string;
  readonly namespace: string;
  readonly identity: string;
  readonly service: string;
}

export const UNKNOWN = 'unknown';

/**
 * Distinct label sets kept; beyond it every new one is UNKNOWN_PEER (cardinality stays bounded whatever the input). Sets
 * from config are bounded by the config; those from peer identities have their own, smaller cap below.
 */
const MAX_INTERNED = 65_536;
const MAX_PEER_IDENTITIES = 1024;
const interned = new Map<string, PeerLabels>();

export const UNKNOWN_PEER: PeerLabels = Object.freeze({ workload: UNKNOWN, namespace: UNKNOWN, identity: UNKNOWN, service: UNKNOWN });

/** The one PeerLabels object for these values ('' or absent -> "unknown"). */
export function peerLabels(m: Partial<DestinationMetadata> | undefined): PeerLabels {
  const workload = m?.workload || UNKNOWN;
  const namespace = m?.namespace || UNKNOWN;
  const identity = m?.identity || UNKNOWN;
  const service = m?.service || UNKNOWN;
  const key = `${workload}\u0000${namespace}\u0000${identity}\u0000${service}`;
  let p = interned.get(key);
  if (p === undefined) {
    if (interned.size >= MAX_INTERNED) return UNKNOWN_PEER;
    p = Object.freeze({ workload, namespace, identity, service });
    interned.set(key, p);
  }
  return p;
}

const SPIFFE = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/;
const byIdentity = new Map<string, PeerLabels>();

/**
 * The caller as an inbound proxy knows it: the verified SPIFFE identity of the connection's peer (namespace from its path).
 * The workload is not in the certificate: "unknown" until the calling sidecar tells us (a later change).
 */
export function peerLabelsForIdentity(identity: string | null): PeerLabels {
  if (identity === null || identity === '') return UNKNOWN_PEER;
  let p = byIdentity.get(identity);
  if (p === undefined) {
    const m = SPIFFE.exec(identity);
    p = peerLabels({ identity, namespace: m?.[1] ?? '' });
    if (byIdentity.size >= MAX_PEER_IDENTITIES) return UNKNOWN_PEER;
    byIdentity.set(identity, p);
  }
  return p;
}

/**
 * This proxy's own workload: the config's `telemetry.workload`, else the injector's environment. A pod of a Deployment is
 * `<deployment>-<template hash>-<5 chars>`, of a DaemonSet or Job `<name>-<5 chars>`; the owner's name is the workload.
 */
export function ownWorkload(config: WorkloadMetadata, env: { pod?: string | undefined; namespace?: string | undefined; serviceAccount?: string | undefined; trustDomain?: string | undefined }): WorkloadMetadata {
  const pod = env.pod ?? '';
  const namespace = config.namespace || env.namespace || '';
  const sa = env.serviceAccount ?? '';
  const workload = config.workload || workloadOfPod(pod);
  const identity = config.identity || (namespace !== '' && sa !== '' ? `spiffe://${env.trustDomain ?? 'cluster.local'}/ns/${namespace}/sa/${sa}` : '');
  return { workload, namespace, identity };
}

// A handle outlives config versions when its pools are unchanged, but its metadata may change: keyed with its cluster.
const byEndpoint = new WeakMap<EndpointHandle, { readonly cluster: UpstreamCluster; readonly remote: Remote }>();
const byCluster = new WeakMap<UpstreamCluster, { readonly remote: Remote; readonly endpoints: Map<string, Remote> | null }>();

/**
 * The destination of an outbound request to `endpoint` of `cluster`: its cluster's metadata, the endpoint's own over it;
 * the identity, when the metadata names none, is the one mesh mTLS expects of the endpoint (and then mtls is true).
 */
export function destinationRemote(cluster: UpstreamCluster, endpoint: EndpointHandle | null): Remote {
  if (endpoint !== null) {
    const cached = byEndpoint.get(endpoint);
    if (cached !== undefined && cached.cluster === cluster) return cached.remote;
  }
  let c = byCluster.get(cluster);
  if (c === undefined) {
    const config = cluster.config;
    const base = config.destination;
    let endpoints: Map<string, Remote> | null = null;
    for (const ep of config.endpoints) {
      const mesh = meshEndpointIdentity(config, ep);
      if (ep.destination === undefined && mesh === null) continue;
      endpoints ??= new Map();
      const key = ep.address.includes(':') ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
      const meta = { ...base, ...ep.destination };
      endpoints.set(key, remote(peerLabels({ ...meta, identity: meta.identity || (mesh ?? '') }), mesh !== null));
    }
    const clusterMesh = config.meshTls?.identity ?? null;
    c = { remote: remote(peerLabels({ ...base, identity: base?.identity || (clusterMesh ?? '') }), clusterMesh !== null), endpoints };
    byCluster.set(cluster, c);
  }
  const r = (endpoint !== null ? c.endpoints?.get(endpoint.state.key) : undefined) ?? c.remote;
  if (endpoint !== null) byEndpoint.set(endpoint, { cluster, remote: r });
  return r;
}

/** The destination labels of an outbound request to `endpoint` of `cluster`. */
export function destinationLabels(cluster: UpstreamCluster, endpoint: EndpointHandle | null): PeerLabels {
  return destinationRemote(cluster, endpoint).labels;
}

/** The other end of a request and whether that side of it was mutual TLS. */
export interface Remote {
  readonly labels: PeerLabels;
  readonly mtls: boolean;
}
const PLAIN_UNKNOWN: Remote = { labels: UNKNOWN_PEER, mtls: false };
const byLabels = new WeakMap<PeerLabels, readonly [Remote, Remote]>();

function remote(labels: PeerLabels, mtls: boolean): Remote {
  let pair = byLabels.get(labels);
  if (pair === undefined) byLabels.set(labels, (pair = [{ labels, mtls: false }, { labels, mtls: true }]));
  return pair[mtls ? 1 : 0];
}

/**
 * Inbound: the caller, from the connection's verified peer identity (mTLS when there is one). Outbound and ingress: the
 * endpoint the last attempt went to, from the control plane's metadata; mTLS when the cluster reaches it over mesh mTLS.
 */
export function remoteOf(req: ProxyRequest): Remote {
  const d = req.downstream;
  if (d.direction === 'inbound') {
    const id = d.peerIdentity;
    return id === null ? PLAIN_UNKNOWN : remote(peerLabelsForIdentity(id), d.tls);
  }
  const cluster = req.cluster;
  return cluster === null ? PLAIN_UNKNOWN : destinationRemote(cluster, req.endpoint);
}
