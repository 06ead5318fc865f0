// The IP allow/deny layer: the client address (through the listener's trusted x-forwarded-for hops) against CIDR lists; 403.
import { BlockList } from 'node:net';
import type { IpFilterConfig } from '../../api/config/edge-policy-config.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { Layer } from '../stack/service.ts';
import { clientAddress } from './client-address.ts';

function blockList(cidrs: readonly string[]): BlockList | null {
  if (cidrs.length === 0) return null;
  const list = new BlockList();
  for (const c of cidrs) {
    const slash = c.indexOf('/');
    const addr = slash < 0 ? c : c.slice(0, slash);
    const type = addr.includes(':') ? 'ipv6' : 'ipv4';
    const bits = slash < 0 ? (type === 'ipv4' ? 32 : 128) : Number(c.slice(slash + 1));
    list.addSubnet(addr, bits, type);
  }
  return list;
}

/** The compiled lists (built once per config). */
export class IpMatcher {
  readonly #allow: BlockList | null;
  readonly #deny: BlockList | null;

  constructor(config: IpFilterConfig) {
    this.#allow = blockList(config.allow);
    this.#deny = blockList(config.deny);
  }

  /** Whether `address` (canonical: IPv4 dotted, or IPv6) may pass; '' (no usable address) never does. */
  allows(address: string): boolean {
    if (address === '') return false;
    const type = address.includes(':') ? 'ipv6' : 'ipv4';
    if (this.#deny !== null && this.#deny.check(address, type)) return false;
    return this.#allow === null || this.#allow.check(address, type);
  }
}

const DENIED = new ProxyError(ERRORS.ipDenied);

export interface IpFilterCounters {
  denied: number;
}

export function ipFilterLayer(matcher: IpMatcher, trustedHops: number, counters: IpFilterCounters): Layer {
  return (inner) => (req) => {
    const address = clientAddress(req.downstream.clientAddress, req.clientHeaders['x-forwarded-for'], trustedHops);
    if (matcher.allows(address)) return inner(req);
    counters.denied++;
    return Promise.reject(DENIED);
  };
}
