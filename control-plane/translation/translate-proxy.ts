// Translation, a pure function: the mesh's Kubernetes objects and one proxy's scope in, that proxy's outbound
// resources out (clusters with ready endpoints, the outbound route table by Host, the ClusterIP:port table), plus every
// problem found in the inputs. No clock, no environment, no I/O; the inputs are never modified.
import { workloadOfPod } from '../../api/mesh/workload-name.ts';
import type { V1EndpointSlice, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { ClusterConfig, EndpointConfig, RouteConfig, VirtualHostConfig } from '../../api/config/proxy-config.ts';
import { DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT, DEFAULT_OUTBOUND_CONNECT_TIMEOUT_MS, DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS } from '../../api/config/proxy-config-defaults.ts';
import type { WireResource } from '../../api/proto/config-discovery.ts';
import { wireResource, type ResourceBody } from '../serving/proxy-snapshot.ts';
import type { ServicePortMemo } from './service-port-memo.ts';
import { resolveGammaRoutes } from './gamma-routes.ts';
import { routePolicy, withRoutePolicy } from './route-policy.ts';
import type { CompiledSections } from './traffic-policy-compile.ts';
import { portKey, resolveTrafficPolicies } from './traffic-policy-resolution.ts';
import { CLUSTER_DOMAIN, clusterName, EXPORT_TO_ANNOTATION, parseNamespaceList, type MeshInputs, type ProxyScope } from './mesh-inputs.ts';

/** The resource kinds translation produces (the proxy's live-config kinds). */
export const RESOURCE_TYPES = { cluster: 'cluster', endpointSet: 'endpoint-set', routeTable: 'route-table', virtualHost: 'virtual-host', outboundVips: 'outbound-vips' } as const;
export const OUTBOUND_ROUTE_TABLE = 'outbound';
export const PASSTHROUGH_CLUSTER = 'outbound-passthrough';

export interface TranslationProblem {
  /** "Service ns/name", "EndpointSlice ns/name". */
  readonly object: string;
  readonly message: string;
}

/** One entry of the ClusterIP table: a connection to address:port is that Service port, whatever its Host says. */
export interface OutboundVip {
  readonly address: string;
  readonly port: number;
  readonly virtualHost: string;
}

export interface ProxyTranslation {
  /** Bodies as objects; those of Service ports already encoded when translation was given a memo. */
  readonly resources: readonly (ResourceBody | WireResource)[];
  readonly problems: readonly TranslationProblem[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:]+$/i;

/** Istio's outbound|port||host, in the characters the proxy's resource names allow. */
export { clusterName };

/**
 * The Host forms that name a Service port. From the Service's own namespace the bare name works too (the DNS search path
 * of pods there); `:port` forms always, and the port-less forms only for port 80 (what a client sends for it).
 */
export function hostForms(ns: string, name: string, port: number, sameNamespace: boolean): string[] {
  const names = [`${name}.${ns}`, `${name}.${ns}.svc`, `${name}.${ns}.svc.${CLUSTER_DOMAIN}`];
  if (sameNamespace) names.unshift(name);
  const out: string[] = [];
  for (const n of names) {
    if (port === 80) out.push(n);
    out.push(`${n}:${port}`);
  }
  return out;
}

/** A Service port's route when no HTTPRoute / GRPCRoute attaches: everything to the Service. */
function defaultRoute(cluster: string): RouteConfig {
  return {
    name: 'default',
    match: { path: { type: 'prefix', value: '/' }, methods: [], headers: [], query: [] },
    backends: [{ cluster, weight: 1 }],
    directResponse: null,
    requestHeaders: { set: {}, add: {}, remove: [] },
    responseHeaders: { set: {}, add: {}, remove: [] },
    redirect: null,
    rewrite: null,
    ...routePolicy(null),
  };
}

/** A Service port's cluster: its ready endpoints (with identities: mTLS to meshed pods) and its TrafficPolicy's cluster fields. */
export function serviceCluster(ns: string, name: string, p: V1ServicePort, slices: readonly V1EndpointSlice[], policy: CompiledSections | null, problems: TranslationProblem[], identities?: ReadonlyMap<string, string>): ClusterConfig {
  const endpoints = readyEndpoints(slices, p, problems, identities);
  return {
    name: clusterName(ns, name, p.port),
    type: 'static',
    originalDestinationAddress: null,
    protocol: upstreamProtocol(p),
    loadBalancer: policy?.loadBalancer ?? { policy: 'p2c-ewma', hashOn: null },
    connectTimeoutMs: DEFAULT_OUTBOUND_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS,
    maxConnectionsPerEndpoint: DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT,
    endpoints,
    // Who answers, for the caller's metrics and spans (destination_service, destination_namespace); each endpoint adds its workload.
    destination: { service: `${name}.${ns}`, namespace: ns },
    // Endpoints with an identity (meshed pods) are reached over mTLS and must present exactly it; others in plain text.
    ...(endpoints.some((e) => e.identity) ? { meshTls: { identity: null } } : {}),
    // From TrafficPolicy; without one a Service gets none.
    circuitBreaker: policy?.circuitBreaker ?? null,
    outlierDetection: policy?.outlierDetection ?? null,
  };
}

/** EndpointSlices by their Service, `namespace/name`. */
export function slicesOfServices(endpointSlices: readonly V1EndpointSlice[]): Map<string, V1EndpointSlice[]> {
  const out = new Map<string, V1EndpointSlice[]>();
  for (const s of endpointSlices) {
    const svc = s.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svc || !s.metadata?.namespace) continue;
    const key = `${s.metadata.namespace}/${svc}`;
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(s);
  }
  return out;
}

function visibleTo(svc: V1Service, scope: ProxyScope): boolean {
  const ns = svc.metadata!.namespace!;
  const exportTo = parseNamespaceList(svc.metadata?.annotations?.[EXPORT_TO_ANNOTATION], ns);
  if (exportTo !== null && !exportTo.includes(scope.namespace)) return false;
  if (scope.outboundNamespaces !== null && !scope.outboundNamespaces.includes(ns)) return false;
  return true;
}

function upstreamProtocol(p: V1ServicePort): 'http1' | 'http2' {
  const app = (p.appProtocol ?? '').toLowerCase();
  if (app === 'kubernetes.io/h2c' || app === 'grpc' || app === 'http2') return 'http2';
  const name = (p.name ?? '').toLowerCase();
  return name === 'grpc' || name.startsWith('grpc-') || name === 'http2' || name.startsWith('http2-') ? 'http2' : 'http1';
}

/** Ready endpoints of a Service port, from every EndpointSlice of the Service, deduplicated and in a stable order. */
function readyEndpoints(slices: readonly V1EndpointSlice[], port: V1ServicePort, problems: TranslationProblem[], identities?: ReadonlyMap<string, string>): EndpointConfig[] {
  const seen = new Map<string, EndpointConfig>();
  for (const slice of slices) {
    const where = `EndpointSlice ${slice.metadata?.namespace}/${slice.metadata?.name}`;
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue; // FQDN slices: not ours to resolve
    const sp = (slice.ports ?? []).find((x) => (x.name ?? '') === (port.name ?? '') && (x.protocol ?? 'TCP') === 'TCP');
    if (!sp) continue;
    const targetPort = sp.port;
    if (typeof targetPort !== 'number' || !Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65535) {
      problems.push({ object: where, message: `port ${sp.name ?? '(unnamed)'} has no valid number` });
      continue;
    }
    for (const ep of slice.endpoints ?? []) {
      // ready unset means ready (the API's own rule); terminating endpoints take no new requests.
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses ?? []) {
        const valid = slice.addressType === 'IPv4' ? IPV4.test(address) : IPV6.test(address) && address.includes(':');
        if (!valid) {
          problems.push({ object: where, message: `address "${address}" is not an ${slice.addressType} address` });
          continue;
        }
        const key = `${address}|${targetPort}`;
        const pod = ep.targetRef?.kind === 'Pod' && ep.targetRef.name ? `${ep.targetRef.namespace ?? slice.metadata?.namespace}/${ep.targetRef.name}` : '';
        const identity = pod !== '' ? identities?.get(pod) : undefined;
        const destination = ep.targetRef?.kind === 'Pod' && ep.targetRef.name ? { destination: { workload: workloadOfPod(ep.targetRef.name) } } : {};
        if (!seen.has(key)) seen.set(key, { address, port: targetPort, weight: 1, ...(identity ? { identity } : {}), ...destination });
      }
    }
  }
  return [...seen.values()].sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1));
}

function validService(svc: V1Service, problems: TranslationProblem[]): boolean {
  const ns = svc.metadata?.namespace ?? '';
  const name = svc.metadata?.name ?? '';
  if (!DNS_LABEL.test(ns) || !DNS_LABEL.test(name)) {
    problems.push({ object: `Service ${ns}/${name}`, message: 'namespace and name must be DNS labels' });
    return false;
  }
  return true;
}

/** A Service port's resources: its cluster and endpoint set, its virtual host, its ClusterIP:ports; and what its routes name. */
function servicePort(
  ns: string,
  name: string,
  p: V1ServicePort,
  slices: readonly V1EndpointSlice[],
  clusterIps: readonly string[],
  policy: CompiledSections | null,
  routes: readonly RouteConfig[] | null,
  sameNamespace: boolean,
  problems: TranslationProblem[],
  identities: ReadonlyMap<string, string> | undefined,
): { resources: ResourceBody[]; wanted: string[] } {
  const cluster = clusterName(ns, name, p.port);
  const c = serviceCluster(ns, name, p, slices, policy, problems, identities);
  // Host forms cannot collide: every form but the bare name carries the namespace, and the bare name is only
  // given to proxies of the Service's own namespace, where names are unique.
  const domains = hostForms(ns, name, p.port, sameNamespace);
  const vips: OutboundVip[] = [];
  for (const ip of clusterIps) {
    const hostIp = ip.includes(':') ? `[${ip}]` : ip;
    domains.push(`${hostIp}:${p.port}`);
    if (p.port === 80) domains.push(hostIp);
    vips.push({ address: ip, port: p.port, virtualHost: cluster });
  }
  const wanted: string[] = [];
  const virtualHost: VirtualHostConfig = {
    name: cluster,
    domains,
    routes: (routes ?? [defaultRoute(cluster)]).map((r) => {
      for (const b of r.backends) wanted.push(b.cluster);
      for (const m of r.mirrors) wanted.push(m.cluster);
      return withRoutePolicy(r, policy);
    }),
  };
  return { resources: [...clusterResources(c), ...serviceResources(virtualHost, vips)], wanted };
}

/** The identities of the pods behind a Service's endpoints, in order: a part of its cluster's inputs. */
function endpointIdentitySignature(slices: readonly V1EndpointSlice[], identities: ReadonlyMap<string, string> | undefined): string {
  if (identities === undefined || identities.size === 0) return '';
  let sig = '';
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      const t = ep.targetRef;
      if (t?.kind === 'Pod' && t.name) sig += `${identities.get(`${t.namespace ?? slice.metadata?.namespace}/${t.name}`) ?? ''},`;
    }
  }
  return sig;
}

/**
 * `memo`: keeps each Service port's resources, encoded, while its inputs are the same (see ServicePortMemo), so that a change
 * to one Service re-translates and re-encodes that Service alone, and callers of many namespaces share them. The output is
 * the same with or without it (bodies already encoded where it was given).
 */
export function translateProxy(inputs: MeshInputs, scope: ProxyScope, memo?: ServicePortMemo): ProxyTranslation {
  const problems: TranslationProblem[] = [];
  const trafficPolicies = resolveTrafficPolicies(inputs.trafficPolicies, inputs.services);
  problems.push(...trafficPolicies.problems);
  const gamma = resolveGammaRoutes(inputs.httpRoutes ?? [], inputs.grpcRoutes ?? [], inputs.services);
  const serviceByKey = new Map(inputs.services.map((x) => [`${x.metadata?.namespace}/${x.metadata?.name}`, x]));
  /** Clusters the routes of this proxy send to. */
  const wanted = new Set<string>();
  const slicesByService = slicesOfServices(inputs.endpointSlices);
  /** Clusters of GAMMA backends outside the scope (see below). */
  const clusters: ClusterConfig[] = [];
  /** The resources of every Service port, and the clusters they bring. */
  const portResources: (ResourceBody | WireResource)[] = [];
  const have = new Set<string>();
  const byKey = (x: V1Service): string => `${x.metadata?.namespace}/${x.metadata?.name}`;
  const services = [...inputs.services].sort((a, b) => (byKey(a) < byKey(b) ? -1 : byKey(a) > byKey(b) ? 1 : 0));
  for (const svc of services) {
    if (!validService(svc, problems) || !visibleTo(svc, scope)) continue;
    const ns = svc.metadata!.namespace!;
    const name = svc.metadata!.name!;
    const where = `Service ${ns}/${name}`;
    const spec = svc.spec ?? {};
    // ExternalName is DNS only; headless Services are reached at pod IPs the client chose: pass-through keeps them working.
    if (spec.type === 'ExternalName' || spec.clusterIP === 'None') continue;
    const slices = slicesByService.get(`${ns}/${name}`) ?? [];
    const clusterIps = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter((ip) => IPV4.test(ip) || (IPV6.test(ip) && ip.includes(':')));
    for (const p of spec.ports ?? []) {
      if ((p.protocol ?? 'TCP') !== 'TCP') continue;
      if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
        problems.push({ object: where, message: `port ${p.name ?? p.port} is out of range` });
        continue;
      }
      const policy = trafficPolicies.byPort.get(portKey(ns, name, p.port))?.sections ?? null;
      const routes = gamma.routesFor(scope.namespace, ns, name, p.port);
      const make = (): { resources: (ResourceBody | WireResource)[]; wanted: string[]; problems: TranslationProblem[] } => {
        const found: TranslationProblem[] = [];
        const made = servicePort(ns, name, p, slices, clusterIps, policy, routes, ns === scope.namespace, found, inputs.endpointIdentities);
        return { ...made, problems: found };
      };
      const out =
        memo === undefined
          ? make()
          : memo.get(
              svc,
              {
                port: p.port,
                sameNamespace: ns === scope.namespace,
                slices,
                policy: policy === null ? '' : JSON.stringify(policy),
                routes: routes === null ? '' : JSON.stringify(routes),
                identities: endpointIdentitySignature(slices, inputs.endpointIdentities),
              },
              () => {
                const m = make();
                return { ...m, resources: m.resources.map((x) => wireResource(x as ResourceBody)) };
              },
            );
      problems.push(...out.problems);
      for (const w of out.wanted) wanted.add(w);
      portResources.push(...out.resources);
      have.add(clusterName(ns, name, p.port));
    }
  }
  // Backends and mirrors of GAMMA routes that the scope alone did not bring (a Service not exported to this namespace).
  for (const b of gamma.backends) {
    const name = clusterName(b.namespace, b.name, b.port);
    if (have.has(name) || !wanted.has(name)) continue;
    const svc = serviceByKey.get(`${b.namespace}/${b.name}`);
    const p = svc?.spec?.ports?.find((x) => x.port === b.port);
    if (!svc || !p) continue;
    clusters.push(serviceCluster(b.namespace, b.name, p, slicesByService.get(`${b.namespace}/${b.name}`) ?? [], trafficPolicies.byPort.get(portKey(b.namespace, b.name, b.port))?.sections ?? null, problems, inputs.endpointIdentities));
    have.add(name);
  }
  // Anything else (headless Services, destinations outside the mesh) goes where it was headed: the table's own host.
  const passthrough: VirtualHostConfig = {
    name: PASSTHROUGH_CLUSTER,
    domains: ['*'],
    routes: [
      {
        name: 'passthrough',
        match: { path: { type: 'prefix', value: '/' }, methods: [], headers: [], query: [] },
        backends: [{ cluster: PASSTHROUGH_CLUSTER, weight: 1 }],
        directResponse: null,
        requestHeaders: { set: {}, add: {}, remove: [] },
        responseHeaders: { set: {}, add: {}, remove: [] },
        redirect: null,
        rewrite: null,
        ...routePolicy(null),
      },
    ],
  };
  const resources: (ResourceBody | WireResource)[] = [
    ...portResources,
    ...clusters.flatMap(clusterResources),
    { type: RESOURCE_TYPES.routeTable, name: OUTBOUND_ROUTE_TABLE, body: { name: OUTBOUND_ROUTE_TABLE, virtualHosts: [passthrough] } },
  ];
  return { resources, problems };
}

/**
 * A Service port's routing goes out as resources of its own, named by its virtual host: its `virtual-host` in the `outbound`
 * table and its ClusterIP:ports in an `outbound-vips`. A change to one Service (a TrafficPolicy, an HTTPRoute, a new
 * Service) then pushes that Service's few KiB, not the table of every Service (Envoy's VHDS does the same).
 */
export function serviceResources(virtualHost: VirtualHostConfig, vips: readonly OutboundVip[]): ResourceBody[] {
  const out: ResourceBody[] = [{ type: RESOURCE_TYPES.virtualHost, name: virtualHost.name, body: { routeTable: OUTBOUND_ROUTE_TABLE, ...virtualHost } }];
  if (vips.length > 0) out.push({ type: RESOURCE_TYPES.outboundVips, name: virtualHost.name, body: { routeTable: OUTBOUND_ROUTE_TABLE, vips } });
  return out;
}

/** The `outbound` table's virtual hosts as the proxy assembles them: its own, then its `virtual-host` resources by name. */
export function outboundVirtualHosts(resources: readonly (ResourceBody | WireResource)[]): VirtualHostConfig[] {
  const table = resources.find((r) => r.type === RESOURCE_TYPES.routeTable && r.name === OUTBOUND_ROUTE_TABLE);
  const own = (table?.body as { virtualHosts: VirtualHostConfig[] } | undefined)?.virtualHosts ?? [];
  const extra = resources
    .filter((r) => r.type === RESOURCE_TYPES.virtualHost && (r.body as { routeTable: string }).routeTable === OUTBOUND_ROUTE_TABLE)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((r) => {
      const { routeTable: _table, ...vh } = r.body as VirtualHostConfig & { routeTable: string };
      return vh;
    });
  return [...own, ...extra];
}

/** Every ClusterIP:port of the `outbound` table, from its `outbound-vips` resources. */
export function outboundVips(resources: readonly (ResourceBody | WireResource)[]): OutboundVip[] {
  return resources.filter((r) => r.type === RESOURCE_TYPES.outboundVips).flatMap((r) => (r.body as { vips: OutboundVip[] }).vips);
}

/**
 * A static cluster goes out as two resources: the cluster without its endpoints, and its `endpoint-set`. Endpoint churn (the
 * most frequent change in a mesh: every rollout, every scale) then changes one small resource, and the proxy rebuilds one
 * balancer rather than the cluster and what refers to it.
 */
export function clusterResources(c: ClusterConfig): ResourceBody[] {
  if (c.type !== 'static') return [{ type: RESOURCE_TYPES.cluster, name: c.name, body: c }];
  return [
    { type: RESOURCE_TYPES.cluster, name: c.name, body: { ...c, endpoints: [] } },
    { type: RESOURCE_TYPES.endpointSet, name: c.name, body: { cluster: c.name, endpoints: c.endpoints } },
  ];
}

/** The clusters of a translation with their endpoint sets put back in (what the proxy assembles: debug output and tests). */
export function clustersWithEndpoints(resources: readonly (ResourceBody | WireResource)[]): ClusterConfig[] {
  const sets = new Map<string, readonly EndpointConfig[]>();
  for (const r of resources) if (r.type === RESOURCE_TYPES.endpointSet) sets.set(r.name, (r.body as { endpoints: readonly EndpointConfig[] }).endpoints);
  return resources
    .filter((r) => r.type === RESOURCE_TYPES.cluster)
    .map((r) => {
      const c = r.body as ClusterConfig;
      const endpoints = sets.get(c.name);
      return endpoints === undefined ? c : { ...c, endpoints };
    });
}
