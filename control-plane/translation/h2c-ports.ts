// Which ports of each pod serve HTTP/2 without TLS by prior knowledge (h2c), from the EndpointSlices of the Services in front
// of them (a port's `appProtocol: kubernetes.io/h2c`, copied there by Kubernetes with the port already resolved to a number).
import type { V1EndpointSlice } from '@kubernetes/client-node';

/** The appProtocol of a Service port whose server speaks HTTP/2 prior knowledge in clear text (KEP-3726). */
export const H2C_APP_PROTOCOL = 'kubernetes.io/h2c';

/**
 * `namespace/pod` -> its h2c ports, sorted. A pod is listed as soon as one Service says so for a port (the app serves
 * that port one way, whichever Service reaches it).
 */
export function h2cPortsByPod(slices: readonly V1EndpointSlice[]): Map<string, readonly number[]> {
  const sets = new Map<string, Set<number>>();
  for (const s of slices) {
    const ports = (s.ports ?? []).filter((p) => (p.appProtocol ?? '').toLowerCase() === H2C_APP_PROTOCOL && Number.isInteger(p.port)).map((p) => p.port!);
    if (ports.length === 0) continue;
    for (const e of s.endpoints ?? []) {
      const ref = e.targetRef;
      if (ref?.kind !== 'Pod' || !ref.name) continue;
      const key = `${ref.namespace ?? s.metadata?.namespace ?? ''}/${ref.name}`;
      let set = sets.get(key);
      if (!set) sets.set(key, (set = new Set()));
      for (const p of ports) set.add(p);
    }
  }
  const out = new Map<string, readonly number[]>();
  for (const [k, v] of sets) out.set(k, [...v].sort((a, b) => a - b));
  return out;
}
