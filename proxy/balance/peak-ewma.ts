// Power of two choices over peak-EWMA cost: the default balancer (as linkerd2-proxy and Finagle do).
import type { EndpointState } from './endpoint-state.ts';
import type { LoadBalancer } from './load-balancer.ts';

export class PeakEwmaBalancer implements LoadBalancer {
  readonly #endpoints: readonly EndpointState[];
  readonly #random: () => number;

  constructor(endpoints: readonly EndpointState[], random: () => number) {
    this.#endpoints = endpoints;
    this.#random = random;
  }

  pick(): EndpointState | null {
    const eps = this.#endpoints;
    const n = eps.length;
    if (n === 0) return null;
    if (n === 1) return eps[0]!;
    const i = Math.floor(this.#random() * n);
    let j = Math.floor(this.#random() * (n - 1));
    if (j >= i) j++;
    const a = eps[i]!;
    const b = eps[j]!;
    return a.cost <= b.cost ? a : b;
  }
}
