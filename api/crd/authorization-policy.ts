// TypeScript shape of the AuthorizationPolicy custom resource (skein.dev/v1alpha1) and its conversion to the proxy's model;
// the schema and CEL rules the API server enforces are in manifests/control-plane/crd-authorizationpolicies.yaml, the
// reference in docs/identity.md.
import type { AuthorizationPolicyConfig, AuthorizationSourceConfig, AuthorizationTargetConfig } from '../config/mesh-identity-config.ts';
import { spiffeId } from '../proto/identity.ts';
import type { KubeCondition } from './kube-condition.ts';

export const AUTHORIZATION_POLICY_GROUP = 'skein.dev';
export const AUTHORIZATION_POLICY_VERSION = 'v1alpha1';
export const AUTHORIZATION_POLICY_PLURAL = 'authorizationpolicies';

/**
 * Selects the workloads (pods of the policy's namespace) it applies to and lists who may call them. A workload selected by
 * at least one policy accepts only what some rule of some selecting policy allows; an unselected one follows the mesh
 * default (allow, or deny).
 */
export interface AuthorizationPolicy {
  readonly apiVersion: 'skein.dev/v1alpha1';
  readonly kind: 'AuthorizationPolicy';
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly generation?: number; readonly creationTimestamp?: string };
  readonly spec: AuthorizationPolicySpec;
  readonly status?: PolicyStatus;
}

/**
 * Written by the control plane replica holding the status Lease. `Accepted`: True (Accepted), or False with reason
 * Invalid (the policy then allows nothing to the pods it selects: fail closed) or TargetNotFound (no such Service).
 */
export interface PolicyStatus {
  readonly observedGeneration?: number;
  readonly conditions?: readonly KubeCondition[];
}

/** The workloads a policy applies to, in its own namespace: a Service's pods (by its selector) or a ServiceAccount's pods. */
export interface WorkloadTargetRef {
  readonly group?: '';
  readonly kind: 'Service' | 'ServiceAccount';
  readonly name: string;
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
}

export interface AuthorizationPolicySpec {
  /** Pods of this namespace whose labels match; absent or empty (and no targetRef): every pod of the namespace. */
  readonly selector?: LabelSelector;
  /** Instead of `selector`: the pods of a Service or of a ServiceAccount of this namespace. */
  readonly targetRef?: WorkloadTargetRef;
  /** No rules: selects the workload and allows nothing (deny all). */
  readonly rules?: readonly AuthorizationPolicyRule[];
}

export interface AuthorizationPolicyRule {
  /** Any of these callers; absent or empty: any caller. */
  readonly from?: readonly AuthorizationPolicySource[];
  /** Any of these requests; absent or empty: any request. */
  readonly to?: readonly AuthorizationPolicyTarget[];
}

/** Every field set must hold. */
export interface AuthorizationPolicySource {
  /** ServiceAccounts (namespace defaults to the policy's). */
  readonly serviceAccounts?: readonly { readonly name: string; readonly namespace?: string }[];
  /** SPIFFE ids, or `*` for any caller with a verified identity. */
  readonly identities?: readonly string[];
  readonly namespaces?: readonly string[];
  /** True: callers without a verified mTLS identity (plain text in permissive mode). */
  readonly unauthenticated?: boolean;
}

/** Every field set must hold. */
export interface AuthorizationPolicyTarget {
  /** The workload's (container) ports. */
  readonly ports?: readonly number[];
  readonly paths?: readonly { readonly type: 'Exact' | 'PathPrefix'; readonly value: string }[];
  readonly methods?: readonly string[];
}

/** The proxy's form of one policy (api/config AuthorizationPolicyConfig), ServiceAccounts spelled as SPIFFE ids of `trustDomain`. */
export function authorizationPolicyConfig(policy: AuthorizationPolicy, trustDomain: string): AuthorizationPolicyConfig {
  const ns = policy.metadata.namespace ?? 'default';
  const source = (s: AuthorizationPolicySource): AuthorizationSourceConfig => ({
    identities: [...(s.identities ?? []), ...(s.serviceAccounts ?? []).map((sa) => spiffeId(trustDomain, sa.namespace ?? ns, sa.name))],
    namespaces: [...(s.namespaces ?? [])],
    unauthenticated: s.unauthenticated ?? false,
  });
  const target = (t: AuthorizationPolicyTarget): AuthorizationTargetConfig => ({
    ports: [...(t.ports ?? [])],
    paths: (t.paths ?? []).map((p) => ({ type: p.type === 'Exact' ? 'exact' : 'prefix', value: p.value })),
    methods: [...(t.methods ?? [])],
  });
  return {
    name: `${ns}/${policy.metadata.name}`,
    rules: (policy.spec.rules ?? []).map((r) => ({ from: (r.from ?? []).map(source), to: (r.to ?? []).map(target) })),
  };
}
