// Least request: the endpoint with the fewest in-flight requests (weighted), ties broken at random.
import type { EndpointState } from './endpoint-state.ts';
import type { LoadBalancer } from './load-balancer.ts';

export class LeastRequestBalancer implements LoadBalancer {
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
    // Start the scan at a random offset so ties do not always go to the first endpoint.
    const start = Math.floor(this.#random() * n);
    let best: EndpointState | null = null;
    let bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      const e = eps[(start + k) % n]!;
      const score = (e.active + 1) / e.weight;
      if (score < bestScore) {
        best = e;
        bestScore = score;
      }
    }
    return best;
  }
}
