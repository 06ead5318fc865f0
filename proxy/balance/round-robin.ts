// Smooth weighted round robin: endpoints in turn, in proportion to their weights, evenly interleaved.
import type { EndpointState } from './endpoint-state.ts';
import type { LoadBalancer } from './load-balancer.ts';

export class RoundRobinBalancer implements LoadBalancer {
  readonly #endpoints: readonly EndpointState[];
  readonly #current: number[];
  readonly #total: number;
  readonly #uniform: boolean;
  #next = 0;

  constructor(endpoints: readonly EndpointState[]) {
    this.#endpoints = endpoints;
    this.#current = endpoints.map(() => 0);
    this.#total = endpoints.reduce((s, e) => s + e.weight, 0);
    this.#uniform = endpoints.every((e) => e.weight === endpoints[0]!.weight);
  }

  pick(): EndpointState | null {
    const eps = this.#endpoints;
    if (eps.length === 0) return null;
    if (this.#uniform) {
      const e = eps[this.#next]!;
      this.#next = (this.#next + 1) % eps.length;
      return e;
    }
    let best = 0;
    for (let i = 0; i < eps.length; i++) {
      this.#current[i]! += eps[i]!.weight;
      if (this.#current[i]! > this.#current[best]!) best = i;
    }
    this.#current[best]! -= this.#total;
    return eps[best]!;
  }
}
