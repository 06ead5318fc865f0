// Builds the service part of a pod's hosts file (there is no cluster DNS): ClusterIP Services map to their ClusterIP, headless
// Services to their ready endpoint IPs (and `<hostname>.<svc>` for endpoints that have one), `kubernetes` to the API relay.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

export interface ServiceHostsInput {
  readonly services: readonly V1Service[];
  readonly slices: readonly V1EndpointSlice[];
  /** Where pods reach the API server (the bridge gateway's relay). */
  readonly apiAddress: string;
}

const DOMAIN = 'cluster.local';

function names(name: string, ns: string, podNs: string): string {
  return `${name}.${ns}.svc.${DOMAIN} ${name}.${ns}.svc ${name}.${ns}${ns === podNs ? ` ${name}` : ''}`;
}

export function serviceHostsLines(input: ServiceHostsInput, podNamespace: string): string {
  const lines = [`${input.apiAddress}\t${names('kubernetes', 'default', podNamespace)}`];
  const slicesBySvc = new Map<string, V1EndpointSlice[]>();
  for (const s of input.slices) {
    const svc = s.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svc || s.addressType !== 'IPv4') continue;
    const k = `${s.metadata?.namespace}/${svc}`;
    slicesBySvc.set(k, [...(slicesBySvc.get(k) ?? []), s]);
  }
  for (const svc of input.services) {
    const name = svc.metadata?.name ?? '';
    const ns = svc.metadata?.namespace ?? '';
    if (!name || (name === 'kubernetes' && ns === 'default')) continue;
    const ip = svc.spec?.clusterIP;
    if (ip && ip !== 'None') {
      lines.push(`${ip}\t${names(name, ns, podNamespace)}`);
      continue;
    }
    if (ip !== 'None') continue;
    // Headless: one line per ready address (glibc returns them all with `multi on`, Debian's default), plus pod hostnames.
    for (const slice of slicesBySvc.get(`${ns}/${name}`) ?? []) {
      for (const ep of slice.endpoints ?? []) {
        if (ep.conditions?.ready === false) continue;
        for (const addr of ep.addresses) {
          lines.push(`${addr}\t${names(name, ns, podNamespace)}`);
          if (ep.hostname) lines.push(`${addr}\t${ep.hostname}.${name}.${ns}.svc.${DOMAIN} ${ep.hostname}.${name}.${ns}.svc`);
        }
      }
    }
  }
  return lines.join('\n');
}
