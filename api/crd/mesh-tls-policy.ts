// TypeScript shape of the MeshTLSPolicy custom resource (skein.dev/v1alpha1): whether the selected workloads' sidecars take
// plain text besides mTLS (permissive) or only mTLS (strict), mesh-wide, per namespace, per workload and per port. The
// schema and CEL rules are in manifests/control-plane/crd-meshtlspolicies.yaml, the reference in docs/identity.md.
import type { LabelSelector, PolicyStatus, WorkloadTargetRef } from './authorization-policy.ts';

export const MESH_TLS_POLICY_GROUP = 'skein.dev';
export const MESH_TLS_POLICY_VERSION = 'v1alpha1';
export const MESH_TLS_POLICY_PLURAL = 'meshtlspolicies';

export type MeshTlsMode = 'Permissive' | 'Strict';

/**
 * Its level comes from where it is and what it selects: in the mesh namespace (skein-system) without selector or targetRef,
 * mesh-wide; elsewhere without them, the namespace; with a selector or targetRef, those workloads. The most specific level
 * that says something wins: a workload's `mode` over its namespace's over the mesh's, and per port likewise.
 */
export interface MeshTLSPolicy {
  readonly apiVersion: 'skein.dev/v1alpha1';
  readonly kind: 'MeshTLSPolicy';
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly generation?: number; readonly creationTimestamp?: string | Date };
  readonly spec: MeshTLSPolicySpec;
  readonly status?: PolicyStatus;
}

export interface MeshTLSPolicySpec {
  readonly selector?: LabelSelector;
  readonly targetRef?: WorkloadTargetRef;
  /** Absent: the less specific level's mode (at the end, the control plane's default, Permissive). */
  readonly mode?: MeshTlsMode;
  /** Per app port (the port a connection was headed to): overrides `mode` for that port. */
  readonly ports?: readonly { readonly port: number; readonly mode: MeshTlsMode }[];
}
