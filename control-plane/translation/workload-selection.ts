// Which pods a workload policy (AuthorizationPolicy, MeshTLSPolicy) applies to: its namespace as a whole, the pods matching
// a label selector, or the pods of a Service (by the Service's selector) or of a ServiceAccount. Pure.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { LabelSelector, WorkloadTargetRef } from '../../api/crd/authorization-policy.ts';

export type WorkloadSelection =
  /** No selector or targetRef: every pod of the namespace. */
  | { readonly level: 'namespace'; readonly namespace: string }
  | { readonly level: 'workload'; readonly namespace: string; readonly matchLabels: Readonly<Record<string, string>> }
  | { readonly level: 'workload'; readonly namespace: string; readonly serviceAccount: string };

/** What a policy's spec names, resolved against the Services; `problem` names why it selects nothing (or is invalid). */
export type SelectionResult =
  | { readonly ok: true; readonly selection: WorkloadSelection }
  | { readonly ok: false; readonly reason: 'Invalid' | 'TargetNotFound'; readonly message: string };

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function resolveSelection(
  namespace: string,
  spec: { readonly selector?: LabelSelector; readonly targetRef?: WorkloadTargetRef },
  serviceByKey: ReadonlyMap<string, V1Service>,
): SelectionResult {
  const { selector, targetRef } = spec;
  if (selector !== undefined && targetRef !== undefined) return { ok: false, reason: 'Invalid', message: 'spec: selector and targetRef cannot both be set' };
  if (selector !== undefined) {
    const labels = selector?.matchLabels ?? {};
    if (typeof labels !== 'object' || labels === null) return { ok: false, reason: 'Invalid', message: 'spec.selector.matchLabels: must be a map of strings' };
    for (const [k, v] of Object.entries(labels)) {
      if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) return { ok: false, reason: 'Invalid', message: `spec.selector.matchLabels.${k}: not a label value` };
    }
    // An empty selector selects every pod of the namespace, as a Kubernetes label selector does: that is a workload
    // policy for every workload (it overrides the namespace's mode), not the namespace's own setting.
    return { ok: true, selection: { level: 'workload', namespace, matchLabels: labels } };
  }
  if (targetRef === undefined) return { ok: true, selection: { level: 'namespace', namespace } };
  if ((targetRef.group ?? '') !== '' || typeof targetRef.name !== 'string' || targetRef.name === '') {
    return { ok: false, reason: 'Invalid', message: 'spec.targetRef: must name a core Service or ServiceAccount (group "")' };
  }
  if (targetRef.kind === 'ServiceAccount') return { ok: true, selection: { level: 'workload', namespace, serviceAccount: targetRef.name } };
  if (targetRef.kind !== 'Service') return { ok: false, reason: 'Invalid', message: 'spec.targetRef.kind: must be Service or ServiceAccount' };
  const svc = serviceByKey.get(`${namespace}/${targetRef.name}`);
  if (svc === undefined) return { ok: false, reason: 'TargetNotFound', message: `Service ${namespace}/${targetRef.name} not found` };
  const sel = svc.spec?.selector;
  if (sel === undefined || Object.keys(sel).length === 0) return { ok: false, reason: 'TargetNotFound', message: `Service ${namespace}/${targetRef.name} has no selector, so no pods of its own` };
  return { ok: true, selection: { level: 'workload', namespace, matchLabels: sel } };
}

export function selectsPod(s: WorkloadSelection, pod: V1Pod): boolean {
  if (pod.metadata?.namespace !== s.namespace) return false;
  if (s.level === 'namespace') return true;
  if ('serviceAccount' in s) return (pod.spec?.serviceAccountName || 'default') === s.serviceAccount;
  const labels = pod.metadata?.labels ?? {};
  for (const k in s.matchLabels) if (labels[k] !== s.matchLabels[k]) return false;
  return true;
}
