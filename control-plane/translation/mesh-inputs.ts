// Everything translation reads: the Kubernetes objects ingestion keeps, as plain readonly data.
import type { V1ConfigMap, V1EndpointSlice, V1Ingress, V1Namespace, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import type { AuthorizationPolicy } from '../../api/crd/authorization-policy.ts';
import type { MeshTLSPolicy } from '../../api/crd/mesh-tls-policy.ts';
import type { BackendTLSPolicy, Gateway, GatewayClass, GRPCRoute, HTTPRoute, ReferenceGrant } from '../../api/crd/gateway-api.ts';
import type { TrafficPolicy } from '../../api/crd/traffic-policy.ts';

export interface MeshInputs {
  readonly services: readonly V1Service[];
  readonly endpointSlices: readonly V1EndpointSlice[];
  readonly namespaces: readonly V1Namespace[];
  /** skein.dev TrafficPolicies (empty while the CRD is not installed). */
  readonly trafficPolicies: readonly TrafficPolicy[];
  /** Gateway API routes (empty while their CRDs are not installed); those whose parentRef is a Service are GAMMA routes. */
  readonly httpRoutes?: readonly HTTPRoute[];
  readonly grpcRoutes?: readonly GRPCRoute[];
  /**
   * `namespace/pod` -> the SPIFFE id of pods whose sidecar holds a mesh identity (absent: no identity service, or none):
   * endpoints on them are reached over mTLS, and their certificate must name exactly that id.
   */
  readonly endpointIdentities?: ReadonlyMap<string, string>;
  /** skein.dev AuthorizationPolicies and MeshTLSPolicies (empty while their CRDs are not installed). */
  readonly authorizationPolicies?: readonly AuthorizationPolicy[];
  readonly meshTlsPolicies?: readonly MeshTLSPolicy[];
  /** Pods (MeshTLSPolicy conflicts are found per pod that two workload policies select). */
  readonly pods?: readonly V1Pod[];
  /** The edge (docs/gateway.md): Gateway API objects (empty while their CRDs are not installed), TLS Secrets, Ingresses. */
  readonly gatewayClasses?: readonly GatewayClass[];
  readonly gateways?: readonly Gateway[];
  readonly referenceGrants?: readonly ReferenceGrant[];
  /** Secrets of type kubernetes.io/tls only (the certificates listeners and Ingresses name). */
  readonly tlsSecrets?: readonly V1Secret[];
  /** ConfigMaps holding the CA certificates (`ca.crt`) that Gateways' client certificate validation names. */
  readonly configMaps?: readonly V1ConfigMap[];
  /** Gateway API BackendTLSPolicies: TLS from the ingress to the Services they target (empty while the CRD is not installed). */
  readonly backendTlsPolicies?: readonly BackendTLSPolicy[];
  readonly ingresses?: readonly V1Ingress[];
}

/** The proxy a snapshot is for, and how its workload narrowed what it may call. */
export interface ProxyScope {
  readonly namespace: string;
  /** From the pod annotation skein.dev/outbound-namespaces; null: every namespace the Services export to. */
  readonly outboundNamespaces: readonly string[] | null;
}

/** Service annotation: comma-separated namespaces that may call it (`.` its own, `*` all; default `*`). */
export const EXPORT_TO_ANNOTATION = 'skein.dev/export-to';
/** Pod annotation: comma-separated namespaces whose Services this workload calls (`.` its own); narrows, never widens. */
export const OUTBOUND_NAMESPACES_ANNOTATION = 'skein.dev/outbound-namespaces';
export const CLUSTER_DOMAIN = 'cluster.local';

export function parseNamespaceList(value: string | undefined, own: string): readonly string[] | null {
  if (value === undefined || value.trim() === '' || value.trim() === '*') return null;
  return [...new Set(value.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => (s === '.' ? own : s)))];
}

/** The name of a Service port's cluster (and of its virtual host). */
export function clusterName(ns: string, name: string, port: number): string {
  return `outbound:${port}:${name}.${ns}.svc.${CLUSTER_DOMAIN}`;
}
