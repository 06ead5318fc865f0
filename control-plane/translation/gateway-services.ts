// One address per Gateway from one ingress Deployment (pure): when the shared ingress Service asks for it (annotation
// skein.dev/gateway-services: per-gateway), the control plane keeps a Service per Gateway beside it, and the ingress binds
// each Gateway's listeners a second time on that Service's target ports. Gateways that share a port then stay apart (a
// route of one is never served at another's address), as the Gateway API requires; the shared Service keeps serving the
// union, as before. This file decides the Services (names, ports, target ports) and what changes to write.
import { createHash } from 'node:crypto';
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';

/** Service label naming what an ingress Service fronts: `all` (every Gateway of Skein's classes) or `<namespace>.<gateway>`. */
export const INGRESS_SERVICE_LABEL = 'skein.dev/ingress';
/** On the shared (`all`) ingress Service: `per-gateway` gives every Gateway a Service (an address) of its own. */
export const GATEWAY_SERVICES_ANNOTATION = 'skein.dev/gateway-services';
export const PER_GATEWAY = 'per-gateway';
/** On a per-Gateway Service: the Gateway it fronts (`namespace/name`), for people reading it. */
export const GATEWAY_ANNOTATION = 'skein.dev/gateway';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'skein-control-plane';
/** Target ports of the per-Gateway listeners inside the ingress pod: [first, first + count). */
export const TARGET_PORT_RANGE = { first: 40000, count: 10000 } as const;

/** The ingress Service for every Gateway (label skein.dev/ingress=all), if any. */
export function sharedIngressService(services: readonly V1Service[]): V1Service | undefined {
  return services.find((s) => s.metadata?.labels?.[INGRESS_SERVICE_LABEL] === 'all');
}

/** Does the shared ingress Service ask for a Service per Gateway? */
export function perGatewayServices(services: readonly V1Service[]): boolean {
  return sharedIngressService(services)?.metadata?.annotations?.[GATEWAY_SERVICES_ANNOTATION] === PER_GATEWAY;
}

const LABEL_VALUE = /^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** The label value naming a Gateway (`<namespace>.<name>`). */
export const gatewayLabelValue = (ns: string, name: string): string => `${ns}.${name}`;

/** A Service name for a Gateway: valid (DNS-1035, <= 63 characters) and distinct for every namespace/name pair. */
export function gatewayServiceName(ns: string, name: string): string {
  const hash = createHash('sha256').update(`${ns}/${name}`).digest('hex').slice(0, 10);
  const readable = name.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 30).replace(/-+$/, '');
  return `skein-gw-${readable === '' ? 'x' : readable}-${hash}`;
}

/** Is this one of the Services the control plane keeps for Gateways? */
export function isManagedGatewayService(s: V1Service): boolean {
  return s.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && typeof s.metadata?.annotations?.[GATEWAY_ANNOTATION] === 'string';
}

/** The managed Service of a Gateway, when Services are per Gateway. */
export function ownGatewayService(services: readonly V1Service[], ns: string, name: string): V1Service | undefined {
  if (!perGatewayServices(services)) return undefined;
  const home = sharedIngressService(services)?.metadata?.namespace;
  return services.find((s) => s.metadata?.namespace === home && isManagedGatewayService(s) && s.metadata?.annotations?.[GATEWAY_ANNOTATION] === `${ns}/${name}`);
}

/**
 * The ingress-pod ports of a Gateway's own listeners (listener port -> target port), from its managed Service as it stands
 * in the cluster: the ingress binds what the Service sends to, whatever decided it. Empty without per-Gateway Services.
 */
export function gatewayTargetPorts(services: readonly V1Service[], ns: string, name: string): ReadonlyMap<number, number> {
  const out = new Map<number, number>();
  for (const p of ownGatewayService(services, ns, name)?.spec?.ports ?? []) if (typeof p.targetPort === 'number') out.set(p.port, p.targetPort);
  return out;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** What the Services are made from: each Gateway's listener ports and which of them the ingress serves. */
export interface GatewayListeners {
  readonly namespace: string;
  readonly name: string;
  readonly listeners: readonly { readonly port: number; readonly valid: boolean }[];
}

export interface ServiceChange {
  readonly op: 'create' | 'replace' | 'delete';
  /** For the writer's log and its retries. */
  readonly plural: 'services';
  readonly namespace: string;
  readonly name: string;
  /** The Service to write (create, replace: with the resourceVersion read) or to delete. */
  readonly service: V1Service;
}

const samePorts = (a: readonly V1ServicePort[] | undefined, b: readonly V1ServicePort[]): boolean =>
  JSON.stringify((a ?? []).map((p) => [p.name, p.port, p.targetPort, p.protocol ?? 'TCP'])) === JSON.stringify(b.map((p) => [p.name, p.port, p.targetPort, p.protocol ?? 'TCP']));

/**
 * The writes that bring the per-Gateway Services to what the Gateways need: one Service per Gateway with a valid listener,
 * in the shared Service's namespace, with its type and selector, a port per listener port. A target port, once given,
 * stays while the Gateway keeps that port; a new one is drawn from a hash of the Gateway and port (stable across passes
 * and replicas), probing past ports taken. Services of Gateways that are gone (or have no valid listener) are deleted;
 * with the annotation removed, every managed Service is.
 */
export function gatewayServiceChanges(services: readonly V1Service[], resolved: { readonly gateways: readonly GatewayListeners[] }): ServiceChange[] {
  const shared = sharedIngressService(services);
  const home = shared?.metadata?.namespace ?? '';
  const managed = services.filter((s) => isManagedGatewayService(s) && (shared === undefined || s.metadata?.namespace === home));
  const existing = new Map(managed.map((s) => [s.metadata!.annotations![GATEWAY_ANNOTATION]!, s]));
  const changes: ServiceChange[] = [];
  const wanted = new Set<string>();
  if (shared !== undefined && perGatewayServices(services)) {
    // Ports no new target may take: every managed Service's targets, and every listener port (the shared listeners).
    const taken = new Set<number>();
    for (const s of managed) for (const p of s.spec?.ports ?? []) if (typeof p.targetPort === 'number') taken.add(p.targetPort);
    for (const g of resolved.gateways) for (const l of g.listeners) taken.add(l.port);
    for (const g of resolved.gateways) {
      const id = `${g.namespace}/${g.name}`;
      const ports = [...new Set(g.listeners.filter((l) => l.valid).map((l) => l.port))].sort((a, b) => a - b);
      if (ports.length === 0) continue;
      wanted.add(id);
      const cur = existing.get(id);
      const kept = new Map<number, number>();
      for (const p of cur?.spec?.ports ?? []) if (typeof p.targetPort === 'number') kept.set(p.port, p.targetPort);
      const specPorts: V1ServicePort[] = ports.map((port) => {
        let target = kept.get(port);
        if (target === undefined) {
          let i = fnv1a(`${id}:${port}`) % TARGET_PORT_RANGE.count;
          for (let n = 0; n < TARGET_PORT_RANGE.count && taken.has(TARGET_PORT_RANGE.first + i); n++) i = (i + 1) % TARGET_PORT_RANGE.count;
          target = TARGET_PORT_RANGE.first + i;
          taken.add(target);
        }
        return { name: `port-${port}`, port, targetPort: target, protocol: 'TCP' };
      });
      const name = gatewayServiceName(g.namespace, g.name);
      const type = shared.spec?.type ?? 'ClusterIP';
      // The label is for people and selectors (the control plane finds the Service by its annotation): set when valid.
      const value = gatewayLabelValue(g.namespace, g.name);
      const labels = { ...(LABEL_VALUE.test(value) ? { [INGRESS_SERVICE_LABEL]: value } : {}), [MANAGED_BY_LABEL]: MANAGED_BY, 'app.kubernetes.io/part-of': 'skein' };
      const body: V1Service = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { namespace: home, name, labels, annotations: { [GATEWAY_ANNOTATION]: id } },
        spec: { type, selector: { ...(shared.spec?.selector ?? {}) }, ports: specPorts },
      };
      if (cur === undefined) changes.push({ op: 'create', plural: 'services', namespace: home, name, service: body });
      else if (!samePorts(cur.spec?.ports, specPorts) || cur.spec?.type !== type || JSON.stringify(cur.spec?.selector ?? {}) !== JSON.stringify(body.spec!.selector)) {
        // Replace keeps what the API server allocated (cluster IP, node ports) and guards the write with the version read.
        const curPorts = cur.spec?.ports ?? [];
        const ports2 = specPorts.map((p) => ({ ...p, ...(curPorts.find((c) => c.port === p.port)?.nodePort !== undefined && type !== 'ClusterIP' ? { nodePort: curPorts.find((c) => c.port === p.port)!.nodePort } : {}) }));
        changes.push({ op: 'replace', plural: 'services', namespace: home, name: cur.metadata!.name!, service: { ...cur, spec: { ...cur.spec, type, selector: body.spec!.selector, ports: ports2 } } });
      }
    }
  }
  for (const [id, s] of existing) if (!wanted.has(id)) changes.push({ op: 'delete', plural: 'services', namespace: s.metadata!.namespace!, name: s.metadata!.name!, service: s });
  return changes;
}
