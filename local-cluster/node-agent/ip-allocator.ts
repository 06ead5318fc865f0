// Hands out pod IPs from the node's pod CIDR: .0 is the network, the first host address is the bridge gateway, the last is broadcast.
import { NodeAgentError } from './node-agent-error.ts';

export interface Cidr {
  readonly network: number; // host byte order, unsigned
  readonly prefix: number;
}


export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new NodeAgentError('SKEIN_ERR_NODE_BAD_IP', `not an IPv4 address: ${ip}`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new NodeAgentError('SKEIN_ERR_NODE_BAD_IP', `not an IPv4 address: ${ip}`);
    n = n * 256 + Number(p);
  }
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): Cidr {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new NodeAgentError('SKEIN_ERR_NODE_BAD_CIDR', `not an IPv4 CIDR: ${cidr}`);
  const prefix = Number(m[2]);
  if (prefix < 8 || prefix > 30) throw new NodeAgentError('SKEIN_ERR_NODE_BAD_CIDR', `pod CIDR prefix must be /8../30: ${cidr}`);
  const ip = ipToInt(m[1]!);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { network: (ip & mask) >>> 0, prefix };
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function gatewayIp(c: Cidr): string {
  return intToIp(c.network + 1);
}

export function cidrContains(c: Cidr, ip: string): boolean {
  let n: number;
  try { n = ipToInt(ip); } catch { return false; }
  return n >= c.network && n < c.network + cidrSize(c);
}

/** Allocates addresses in order after the last one handed out, so a freed IP is not reused at once (stale conntrack/ARP). */
export class IpAllocator {
  readonly cidr: Cidr;
  readonly #used = new Map<string, string>(); // ip -> owner
  #cursor: number;

  constructor(cidr: string) {
    this.cidr = parseCidr(cidr);
    this.#cursor = this.cidr.network + 1; // the gateway
  }

  get gateway(): string {
    return gatewayIp(this.cidr);
  }

  /** Reserve a specific address (a pod that already had one). Returns false when it is taken or not usable. */
  reserve(ip: string, owner: string): boolean {
    if (!this.#usable(ip)) return false;
    const cur = this.#used.get(ip);
    if (cur !== undefined && cur !== owner) return false;
    this.#used.set(ip, owner);
    return true;
  }

  allocate(owner: string): string {
    for (const [ip, o] of this.#used) if (o === owner) return ip;
    const first = this.cidr.network + 2;
    const last = this.cidr.network + cidrSize(this.cidr) - 2;
    const span = last - first + 1;
    for (let i = 1; i <= span; i++) {
      const n = first + ((this.#cursor - first + i) % span + span) % span;
      const ip = intToIp(n);
      if (!this.#used.has(ip)) {
        this.#used.set(ip, owner);
        this.#cursor = n;
        return ip;
      }
    }
    throw new NodeAgentError('SKEIN_ERR_NODE_IPS_EXHAUSTED', `no free pod IP left in ${intToIp(this.cidr.network)}/${this.cidr.prefix}`);
  }

  release(ip: string): void {
    this.#used.delete(ip);
  }

  get inUse(): number {
    return this.#used.size;
  }

  #usable(ip: string): boolean {
    if (!cidrContains(this.cidr, ip)) return false;
    const n = ipToInt(ip);
    return n >= this.cidr.network + 2 && n <= this.cidr.network + cidrSize(this.cidr) - 2;
  }
}
