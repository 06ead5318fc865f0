// Kubernetes status conditions as the control plane writes them: a desired condition keeps its lastTransitionTime while
// its status is unchanged, and two condition lists compare equal when nothing but times differ (so an unchanged
// outcome is never written again).

import type { KubeCondition } from '../../api/crd/kube-condition.ts';

export type Condition = KubeCondition;

export type DesiredCondition = Omit<Condition, 'lastTransitionTime'>;

/** API messages are capped (32 KiB in the CRDs); long lists of reasons are cut with a note. */
const MAX_MESSAGE = 4096;

export function clampMessage(m: string): string {
  return m.length <= MAX_MESSAGE ? m : `${m.slice(0, MAX_MESSAGE - 20)} ... (truncated)`;
}

/** `now` (an RFC 3339 time) for conditions whose status changed; the previous time for the rest. */
export function withTransitionTimes(desired: readonly DesiredCondition[], current: readonly Condition[] | undefined, now: string): Condition[] {
  return desired.map((d) => {
    const prev = current?.find((c) => c.type === d.type);
    return { ...d, message: clampMessage(d.message), lastTransitionTime: prev && prev.status === d.status && prev.lastTransitionTime ? prev.lastTransitionTime : now };
  });
}

/** Same conditions in any order, ignoring lastTransitionTime. */
export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((c) => {
    const o = y.find((d) => d.type === c.type);
    return o !== undefined && o.status === c.status && o.reason === c.reason && o.message === c.message && (o.observedGeneration ?? null) === (c.observedGeneration ?? null);
  });
}

/** Seconds-precision RFC 3339, as metav1.Time serialises. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
