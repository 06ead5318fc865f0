// Translation's memory of each Service port's resources, encoded, so that a change to one Service re-translates that one.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { WireResource } from '../../api/proto/config-discovery.ts';

/**
 * Everything a Service port's resources are made from besides the Service object itself: its EndpointSlices (the same
 * objects: ingestion replaces an object when it changes), its TrafficPolicy sections and GAMMA routes (as JSON: resolved
 * anew by each translation), the identities of its endpoints' pods, and whether the caller is in the Service's namespace
 * (the bare name is its Host only there).
 */
export interface ServicePortInputs {
  readonly port: number;
  readonly sameNamespace: boolean;
  readonly slices: readonly V1EndpointSlice[];
  readonly policy: string;
  readonly routes: string;
  readonly identities: string;
}

/** What translating a Service port gave: its resources, encoded once, and what it found wrong or referred to. */
export interface ServicePortOutput {
  readonly resources: readonly WireResource[];
  /** Clusters its routes send to or mirror to. */
  readonly wanted: readonly string[];
  readonly problems: readonly { readonly object: string; readonly message: string }[];
}

function sameInputs(a: ServicePortInputs, b: ServicePortInputs): boolean {
  if (a.slices.length !== b.slices.length || a.policy !== b.policy || a.routes !== b.routes || a.identities !== b.identities) return false;
  for (let i = 0; i < a.slices.length; i++) if (a.slices[i] !== b.slices[i]) return false;
  return true;
}

/**
 * Keyed by the Service object (a new object, after any change to it, is a miss; a deleted Service's entries go with it),
 * then port and caller side; an entry is used only while every other input is the same. One entry per key: the inputs of
 * the current generation replace the last one's.
 */
export class ServicePortMemo {
  readonly #entries = new WeakMap<V1Service, Map<string, { inputs: ServicePortInputs; output: ServicePortOutput }>>();
  hits = 0;
  misses = 0;

  get(svc: V1Service, inputs: ServicePortInputs, make: () => ServicePortOutput): ServicePortOutput {
    let byPort = this.#entries.get(svc);
    if (byPort === undefined) this.#entries.set(svc, (byPort = new Map()));
    const key = `${inputs.port}|${inputs.sameNamespace ? 'own' : 'other'}`;
    const kept = byPort.get(key);
    if (kept !== undefined && sameInputs(kept.inputs, inputs)) {
      this.hits++;
      return kept.output;
    }
    this.misses++;
    const output = make();
    byPort.set(key, { inputs, output });
    return output;
  }
}
