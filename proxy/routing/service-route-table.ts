// Outbound target resolution by destination: the service a connection's original destination (VIP:port) belongs to -> its routes.
import type { OriginalDestination } from '../native/original-destination.ts';
import type { RouteTable } from './route-table.ts';

/** One service's virtual IPs and ports, and the routes requests to it take (the control plane sends these). */
export interface ServiceRoutes {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly ports: readonly number[];
  readonly routes: RouteTable;
}

/** Looked up by port, then address, without building a key string per request. */
export class ServiceRouteTable {
  readonly #byPort = new Map<number, Map<string, ServiceRoutes>>();

  constructor(services: readonly ServiceRoutes[]) {
    for (const s of services) {
      for (const port of s.ports) {
        let byAddress = this.#byPort.get(port);
        if (byAddress === undefined) this.#byPort.set(port, (byAddress = new Map()));
        // The first service listed for a VIP:port wins (the control plane never sends two).
        for (const a of s.addresses) if (!byAddress.has(a.toLowerCase())) byAddress.set(a.toLowerCase(), s);
      }
    }
  }

  /** The service the destination belongs to, or null (then Host-based routes apply, then pass-through). */
  lookup(dst: OriginalDestination): ServiceRoutes | null {
    return this.#byPort.get(dst.port)?.get(dst.address) ?? null;
  }

  get size(): number {
    return this.#byPort.size;
  }
}
