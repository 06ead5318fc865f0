// Load-balancer plugin interface and the registry of policies by name.
import type { LoadBalancerConfig, LoadBalancerPolicy } from '../../api/config/proxy-config.ts';
import type { EndpointState } from './endpoint-state.ts';
import { LeastRequestBalancer } from './least-request.ts';
import { PeakEwmaBalancer } from './peak-ewma.ts';
import { RingHashBalancer } from './ring-hash.ts';
import { RoundRobinBalancer } from './round-robin.ts';

export interface PickContext {
  /** ring-hash: the value to hash (header, cookie or source IP); null picks at random. */
  readonly hashKey: string | null;
  /** original-destination clusters: where the redirected connection was headed. */
  readonly originalDst?: { readonly address: string; readonly port: number } | null;
}

/** Chooses an endpoint for each request. Built once per endpoint set (an immutable snapshot). */
export interface LoadBalancer {
  pick(ctx: PickContext): EndpointState | null;
}

export type LoadBalancerFactory = (endpoints: readonly EndpointState[], config: LoadBalancerConfig, random: () => number) => LoadBalancer;

const registry = new Map<LoadBalancerPolicy, LoadBalancerFactory>([
  ['p2c-ewma', (eps, _c, random) => new PeakEwmaBalancer(eps, random)],
  ['round-robin', (eps) => new RoundRobinBalancer(eps)],
  ['least-request', (eps, _c, random) => new LeastRequestBalancer(eps, random)],
  ['ring-hash', (eps, _c, random) => new RingHashBalancer(eps, random)],
]);

export function createLoadBalancer(endpoints: readonly EndpointState[], config: LoadBalancerConfig, random: () => number = Math.random): LoadBalancer {
  const factory = registry.get(config.policy);
  if (!factory) throw new Error(`unknown load-balancer policy ${config.policy}`); // cannot happen: the config schema allows only these
  return factory(endpoints, config, random);
}
