// Consistent hashing on a ring of virtual nodes: the same key goes to the same endpoint while the set is stable.
import type { EndpointState } from './endpoint-state.ts';
import type { LoadBalancer, PickContext } from './load-balancer.ts';

const VNODES_PER_WEIGHT = 100;
const MAX_RING = 8192;

/** 32-bit FNV-1a followed by a murmur3 finalizer, for an even spread of short keys. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class RingHashBalancer implements LoadBalancer {
  readonly #endpoints: readonly EndpointState[];
  readonly #hashes: Uint32Array;
  readonly #owners: Uint32Array;
  readonly #random: () => number;

  constructor(endpoints: readonly EndpointState[], random: () => number) {
    this.#endpoints = endpoints;
    this.#random = random;
    const totalWeight = endpoints.reduce((s, e) => s + e.weight, 0);
    const scale = totalWeight * VNODES_PER_WEIGHT > MAX_RING ? MAX_RING / (totalWeight * VNODES_PER_WEIGHT) : 1;
    const points: { h: number; owner: number }[] = [];
    endpoints.forEach((e, idx) => {
      const n = Math.max(1, Math.round(e.weight * VNODES_PER_WEIGHT * scale));
      for (let v = 0; v < n; v++) points.push({ h: hash32(`${e.key}#${v}`), owner: idx });
    });
    points.sort((a, b) => a.h - b.h);
    this.#hashes = Uint32Array.from(points, (p) => p.h);
    this.#owners = Uint32Array.from(points, (p) => p.owner);
  }

  pick(ctx: PickContext): EndpointState | null {
    const n = this.#hashes.length;
    if (n === 0) return null;
    if (ctx.hashKey === null) return this.#endpoints[Math.floor(this.#random() * this.#endpoints.length)]!;
    const h = hash32(ctx.hashKey);
    // First ring point with hash >= h (wrapping around).
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.#endpoints[this.#owners[lo === n ? 0 : lo]!]!;
  }
}
