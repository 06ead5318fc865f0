// Translation for a proxy in ingress mode, a pure function: the Gateways it serves (one, or every Gateway of Skein's
// classes plus the Ingress objects of IngressClass skein) in, its resources out: one listener and route table per port
// (virtual hosts by the hostnames each route serves there), the certificates as `secret` resources chosen by SNI, and
// the clusters of the backends (endpoints with identity: mTLS to meshed pods, as for sidecars).
import type { ClientValidationConfig, RouteConfig, UpstreamTlsConfig, VirtualHostConfig } from '../../api/config/proxy-config.ts';
import type { ListenerResource, SecretResource } from '../../api/config/config-resources.ts';
import type { ResourceBody } from '../serving/proxy-snapshot.ts';
import { parseEdgeAnnotation, NO_ATTACHMENT, type EdgeAttachment } from './edge-policy-annotation.ts';
import { resolveGateways, type GatewayInputs, type ListenerCertificate, type ListenerClientValidation, type ListenerOutcome, type ResolvedGateways } from './gateway-resolution.ts';
import { gatewayTargetPorts } from './gateway-services.ts';
import { ingressesAsGateways } from './ingress-objects.ts';
import { backendPortKey, resolveBackendTlsPolicies, type PortTls } from './backend-tls-policy.ts';
import { clusterName, type MeshInputs } from './mesh-inputs.ts';
import { sharedRoutePolicy, withRoutePolicy } from './route-policy.ts';
import { compareRanked, type RankedRoute } from './route-rules.ts';
import { portKey, resolveTrafficPolicies } from './traffic-policy-resolution.ts';
import { clusterResources, RESOURCE_TYPES, serviceCluster, slicesOfServices, type ProxyTranslation, type TranslationProblem } from './translate-proxy.ts';

/** Which Gateways an ingress proxy serves: `namespace/name`, or null for every Gateway of Skein's classes and the Ingresses. */
export interface IngressScope {
  readonly gateway: string | null;
}

export const INGRESS_RESOURCE_TYPES = { ...RESOURCE_TYPES, listener: 'listener', secret: 'secret' } as const;

/** The name of the proxy's listener (and route table) for a port. */
export const ingressListenerName = (port: number): string => `ingress:${port}`;
/** The name of the `secret` resource holding a TLS Secret's certificate and key. */
export const certificateSecretName = (ns: string, name: string): string => `tls:${ns}/${name}`;
/** The name of the `secret` resource holding a ConfigMap's CA certificates (client certificate validation). */
export const caSecretName = (ns: string, name: string): string => `ca:${ns}/${name}`;

/** A listener's client validation as the proxy takes it (its CAs as `secret` resources), and the key that compares two. */
function clientValidationConfig(v: ListenerClientValidation | null): ClientValidationConfig | null {
  return v === null ? null : { caSecrets: v.cas.map((c) => caSecretName(c.namespace, c.name)), mode: v.mode };
}

/** Everything the Gateway resolution reads, with the Ingress objects restated as Gateways and HTTPRoutes. */
export function gatewayInputsOf(inputs: MeshInputs): GatewayInputs {
  const ing = ingressesAsGateways(inputs.ingresses ?? [], inputs.services);
  return {
    gatewayClasses: [...(inputs.gatewayClasses ?? []), ...(ing.gateways.length > 0 ? [ing.gatewayClass] : [])],
    gateways: [...(inputs.gateways ?? []), ...ing.gateways],
    httpRoutes: [...(inputs.httpRoutes ?? []), ...ing.httpRoutes],
    grpcRoutes: inputs.grpcRoutes ?? [],
    referenceGrants: inputs.referenceGrants ?? [],
    secrets: inputs.tlsSecrets ?? [],
    configMaps: inputs.configMaps ?? [],
    services: inputs.services,
    namespaces: inputs.namespaces,
    endpointSlices: inputs.endpointSlices,
  };
}

interface PortDraft {
  readonly port: number;
  readonly protocol: string;
  readonly owner: string;
  /** Bound for one Gateway's own Service (gateway-services.ts), not shared by the Gateways on a listener port. */
  readonly isolated: boolean;
  readonly attachment: EdgeAttachment;
  readonly certificates: Map<string, SecretResource>;
  /** The port's client certificate validation: every Gateway listener served on one port must ask the same. */
  readonly clientValidation: ClientValidationConfig | null;
  readonly cas: Map<string, SecretResource>;
  readonly hosts: Map<string, Map<string, RankedRoute>>;
}

/** A route's edge policies on top of its Gateway's: each kind set on the route replaces the Gateway's. */
function withEdge(route: RouteConfig, gateway: EdgeAttachment, own: EdgeAttachment): RouteConfig {
  const g = gateway.edge;
  const r = own.edge;
  const filterCors = route.edge?.cors ?? null;
  if (g === null && r === null && own.rateLimit === null) return route;
  return {
    ...route,
    edge: {
      ipFilter: r?.ipFilter ?? g?.ipFilter ?? null,
      // The route's own CORS filter (Gateway API) is the most specific.
      cors: filterCors ?? r?.cors ?? g?.cors ?? null,
      jwt: r?.jwt ?? g?.jwt ?? null,
      extAuthz: r?.extAuthz ?? g?.extAuthz ?? null,
    },
    rateLimit: own.rateLimit ?? route.rateLimit,
  };
}

/** How specific a listener hostname is: none < wildcards (longer suffix first) < exact names. */
function hostnameRank(h: string | null): number {
  if (h === null) return 0;
  return h.startsWith('*.') ? h.length : 1_000_000;
}

/** Does a listener hostname match every request a route hostname (exact or wildcard) serves? */
function hostnameCovers(listener: string | null, host: string): boolean {
  if (listener === null) return true;
  if (!listener.startsWith('*.')) return host === listener;
  const suffix = listener.slice(1);
  return host === listener || (host.endsWith(suffix) && host.length > suffix.length && !host.slice(0, host.length - suffix.length).includes('*', 1));
}

function failed(route: RouteConfig, why: string): RouteConfig {
  return { ...route, backends: [], mirrors: [], redirect: null, rewrite: null, directResponse: { status: 500, body: `${why}\n` } };
}

export function translateIngress(inputs: MeshInputs, scope: IngressScope, resolved: ResolvedGateways = resolveGateways(gatewayInputsOf(inputs))): ProxyTranslation {
  const problems: TranslationProblem[] = [];
  const ports = new Map<number, PortDraft>();
  const annotations = new Map<string, EdgeAttachment | string>();
  const routeAttachment = (kind: string, ns: string, name: string, a: Readonly<Record<string, string>> | undefined): EdgeAttachment | string => {
    const k = `${kind}/${ns}/${name}`;
    let v = annotations.get(k);
    if (v === undefined) {
      const p = parseEdgeAnnotation(a, kind === 'Gateway');
      v = p.ok ? p.value : p.error;
      if (!p.ok) problems.push({ object: `${kind} ${ns}/${name}`, message: p.error });
      annotations.set(k, v);
    }
    return v;
  };
  // A rule's route gets its backends' TrafficPolicy route sections, as a sidecar's route to that Service does
  // (docs/traffic-policy.md): with several backends, only the sections they agree on.
  const trafficPolicies = resolveTrafficPolicies(inputs.trafficPolicies, inputs.services);
  const policyByCluster = new Map(resolved.backends.map((b) => [clusterName(b.namespace, b.name, b.port), trafficPolicies.byPort.get(portKey(b.namespace, b.name, b.port))?.sections ?? null]));
  const reported = new Set<string>();
  const withBackendPolicy = (route: RouteConfig, object: string): RouteConfig => {
    const shared = sharedRoutePolicy(route.backends.filter((b) => b.weight > 0).map((b) => policyByCluster.get(b.cluster) ?? null));
    if (shared.differing.length > 0 && !reported.has(route.name)) {
      reported.add(route.name);
      problems.push({ object, message: `${route.name}: its backends' TrafficPolicies differ on ${shared.differing.join(', ')}; those are not applied at the ingress for this rule` });
    }
    return withRoutePolicy(route, shared.sections);
  };
  // BackendTLSPolicy: the ingress originates TLS to the ports a valid policy targets; a rule sending to a port whose policy
  // cannot be used fails (500) rather than reach a TLS backend unverified.
  const backendTls = resolveBackendTlsPolicies(inputs.backendTlsPolicies ?? [], inputs.services, inputs.configMaps ?? []);
  const tlsByCluster = new Map<string, PortTls>();
  for (const b of resolved.backends) {
    const t = backendTls.byPort.get(backendPortKey(b.namespace, b.name, b.port));
    if (t !== undefined) tlsByCluster.set(clusterName(b.namespace, b.name, b.port), t);
  }
  const withBackendTls = (route: RouteConfig): RouteConfig => {
    for (const b of route.backends) {
      const t = tlsByCluster.get(b.cluster);
      if (t !== undefined && !t.valid) return failed(route, t.reason);
    }
    return route;
  };
  const routeObjects = new Map<string, Readonly<Record<string, string>> | undefined>();
  for (const r of inputs.httpRoutes ?? []) routeObjects.set(`HTTPRoute/${r.metadata.namespace}/${r.metadata.name}`, r.metadata.annotations);
  for (const r of inputs.grpcRoutes ?? []) routeObjects.set(`GRPCRoute/${r.metadata.namespace}/${r.metadata.name}`, r.metadata.annotations);

  // A listener's certificates and routes into the draft of the port it is bound on. Listener isolation (Gateway API): a
  // request goes to the most specific listener whose hostname matches it, so a route hostname that a more specific
  // listener of the port matches is not served through this one; each listener hostname gets its virtual host (empty if
  // it has no route), so that its requests never fall through to a less specific listener's routes.
  const addListener = (draft: PortDraft, l: ListenerOutcome, gw: EdgeAttachment | string, listenerHosts: readonly (string | null)[]): void => {
    for (const c of l.certificates) draft.certificates.set(certificateSecretName(c.namespace, c.name), { certificateChain: c.certificateChain, privateKey: c.privateKey, trustBundle: null });
    for (const c of l.clientValidation?.cas ?? []) draft.cas.set(caSecretName(c.namespace, c.name), { certificateChain: null, privateKey: null, trustBundle: c.pem });
    const own = l.hostname?.toLowerCase() ?? null;
    if (own !== null && !draft.hosts.has(own)) draft.hosts.set(own, new Map());
    const shadowed = (host: string): boolean => listenerHosts.some((other) => other !== own && hostnameRank(other) > hostnameRank(own) && hostnameCovers(other, host));
    for (const a of l.routes) {
      const ownPolicy = routeAttachment(a.kind, a.namespace, a.name, routeObjects.get(`${a.kind}/${a.namespace}/${a.name}`) ?? undefined);
      for (const host of a.hostnames) {
        if (shadowed(host)) continue;
        let list = draft.hosts.get(host);
        if (!list) draft.hosts.set(host, (list = new Map()));
        for (const rr of a.rules) {
          // Fail closed: a policy that does not parse must not leave the route open.
          const route =
            typeof gw === 'string'
              ? failed(rr.route, `the Gateway's ${gw.split(':')[0]} annotation is invalid`)
              : typeof ownPolicy === 'string'
                ? failed(rr.route, `the route's ${ownPolicy.split(':')[0]} annotation is invalid`)
                : withBackendTls(withEdge(withBackendPolicy(rr.route, `${a.kind} ${a.namespace}/${a.name}`), gw, ownPolicy));
          // The same rule reached through two listeners of one port serves once.
          if (!list.has(route.name)) list.set(route.name, { route, key: rr.key });
        }
      }
    }
  };
  const pending: { draft: PortDraft; l: ListenerOutcome; gw: EdgeAttachment | string }[] = [];
  /** cluster -> the client certificate each served Gateway whose routes send there presents to TLS backends (null: none). */
  const backendCertsOf = new Map<string, Map<string, ListenerCertificate | null>>();

  for (const g of resolved.gateways) {
    const id = `${g.namespace}/${g.name}`;
    // A proxy for one Gateway serves it alone; one for all serves every Gateway (and the Ingresses, restated as Gateways).
    if (scope.gateway !== null && scope.gateway !== id) continue;
    const gw = routeAttachment('Gateway', g.namespace, g.name, g.annotations);
    // With a Service per Gateway, its listeners are bound a second time on the ports only its own Service sends to.
    const own = scope.gateway === null ? gatewayTargetPorts(inputs.services, g.namespace, g.name) : new Map<number, number>();
    for (const l of g.listeners) {
      if (!l.valid) continue;
      for (const a of l.routes)
        for (const rr of a.rules)
          for (const b of rr.route.backends) {
            let m = backendCertsOf.get(b.cluster);
            if (!m) backendCertsOf.set(b.cluster, (m = new Map()));
            m.set(id, g.backendClientCertificate);
          }
      const binds: { port: number; isolated: boolean }[] = [{ port: l.port, isolated: false }];
      const target = own.get(l.port);
      if (target !== undefined) binds.push({ port: target, isolated: true });
      for (const bind of binds) {
        let draft = ports.get(bind.port);
        const validation = clientValidationConfig(l.clientValidation);
        if (draft === undefined) {
          draft = {
            port: bind.port,
            protocol: l.protocol,
            owner: id,
            isolated: bind.isolated,
            attachment: typeof gw === 'string' ? NO_ATTACHMENT : gw,
            certificates: new Map(),
            clientValidation: validation,
            cas: new Map(),
            hosts: new Map(),
          };
          ports.set(bind.port, draft);
        } else if (draft.isolated !== bind.isolated || (bind.isolated && draft.owner !== id)) {
          problems.push({ object: `Gateway ${id}`, message: `listener ${l.name}: port ${bind.port} of the ingress pod is taken by ${draft.isolated ? `Gateway ${draft.owner}'s own Service` : 'a Gateway listener'}; not served there` });
          continue;
        } else if (draft.protocol !== l.protocol) {
          problems.push({ object: `Gateway ${id}`, message: `listener ${l.name}: port ${l.port} is ${draft.protocol} for Gateway ${draft.owner}; this ${l.protocol} listener is not served by this ingress` });
          continue;
        } else if (JSON.stringify(draft.clientValidation) !== JSON.stringify(validation)) {
          // One TLS handshake per connection, before the Host is known: one port cannot both ask for a client
          // certificate and not, or trust other CAs for some of its names. The Gateway's own Service port still serves it.
          problems.push({ object: `Gateway ${id}`, message: `listener ${l.name}: port ${bind.port} validates client certificates otherwise for Gateway ${draft.owner}; not served on that port` });
          continue;
        }
        pending.push({ draft, l, gw });
      }
    }
  }
  // Every listener of a port known, each one's routes go in (isolation needs the port's other listener hostnames).
  const hostsOf = new Map<PortDraft, (string | null)[]>();
  for (const p of pending) hostsOf.set(p.draft, [...(hostsOf.get(p.draft) ?? []), p.l.hostname?.toLowerCase() ?? null]);
  for (const p of pending) addListener(p.draft, p.l, p.gw, hostsOf.get(p.draft)!);

  const services = new Map(inputs.services.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
  const slices = slicesOfServices(inputs.endpointSlices);
  const wanted = new Set<string>();
  const resources: ResourceBody[] = [];
  for (const d of [...ports.values()].sort((a, b) => a.port - b.port)) {
    const name = ingressListenerName(d.port);
    // By name, `*` last: the proxy matches exact names before wildcards whatever the order; a stable order keeps content hashes.
    const hosts = [...d.hosts.keys()].sort((a, b) => (a === '*' ? 1 : b === '*' ? -1 : a.localeCompare(b)));
    const virtualHosts: VirtualHostConfig[] = hosts.map((h) => ({
      // Resource names take no `*`: a wildcard's name spells it out.
      name: h === '*' ? `${name}:any` : h.startsWith('*.') ? `${name}:wildcard:${h.slice(2)}` : `${name}:host:${h}`,
      domains: [h],
      routes: [...d.hosts.get(h)!.values()].sort(compareRanked).map((x) => {
        for (const b of x.route.backends) wanted.add(b.cluster);
        for (const m of x.route.mirrors) wanted.add(m.cluster);
        return x.route;
      }),
    }));
    const certs = [...d.certificates.keys()].sort();
    const listener: ListenerResource = {
      name,
      address: '0.0.0.0',
      port: d.port,
      direction: 'ingress',
      protocol: 'detect',
      routeTable: name,
      tcpCluster: null,
      tls:
        d.protocol === 'HTTPS' && certs.length > 0
          ? {
              secret: certs[0]!,
              alpn: ['h2', 'http/1.1'],
              certificates: certs.slice(1).map((c) => ({ secret: c })),
              // A Host that differs from the SNI is misdirected (421) only when it selects another of these listeners.
              listenerHostnames: [...new Set((hostsOf.get(d) ?? []).map((h) => h ?? '*'))].sort(),
              ...(d.clientValidation !== null ? { clientValidation: d.clientValidation } : {}),
            }
          : null,
      rateLimit: d.attachment.rateLimit,
      xffTrustedHops: d.attachment.xffTrustedHops,
    };
    resources.push({ type: INGRESS_RESOURCE_TYPES.listener, name, body: listener });
    resources.push({ type: INGRESS_RESOURCE_TYPES.routeTable, name, body: { name, virtualHosts } });
    for (const c of certs) resources.push({ type: INGRESS_RESOURCE_TYPES.secret, name: c, body: d.certificates.get(c)! });
    if (d.protocol === 'HTTPS' && certs.length > 0) for (const [n, ca] of d.cas) resources.push({ type: INGRESS_RESOURCE_TYPES.secret, name: n, body: ca });
  }
  const seenSecrets = new Set<string>();
  const deduped = resources.filter((r) => r.type !== 'secret' || (!seenSecrets.has(r.name) && seenSecrets.add(r.name)));
  for (const b of resolved.backends) {
    const cname = clusterName(b.namespace, b.name, b.port);
    if (!wanted.has(cname)) continue;
    const svc = services.get(`${b.namespace}/${b.name}`);
    const p = svc?.spec?.ports?.find((x) => x.port === b.port);
    if (!svc || !p) continue;
    const policy = trafficPolicies.byPort.get(portKey(b.namespace, b.name, b.port))?.sections ?? null;
    const cluster = serviceCluster(b.namespace, b.name, p, slices.get(`${b.namespace}/${b.name}`) ?? [], policy, problems, inputs.endpointIdentities);
    const t = tlsByCluster.get(cname);
    if (t === undefined || !t.valid) {
      deduped.push(...clusterResources(cluster));
      continue;
    }
    // The Gateways' client certificate (spec.tls.backend): one cluster serves every Gateway that routes to the Service, so
    // it presents one only when they all name the same; otherwise none, and the problem says why.
    const certs = [...(backendCertsOf.get(cname)?.entries() ?? [])];
    const names = new Set(certs.map(([, c]) => (c === null ? '' : certificateSecretName(c.namespace, c.name))));
    const own = names.size === 1 && !names.has('') ? certs[0]![1]! : null;
    if (names.size > 1) problems.push({ object: `Service ${b.namespace}/${b.name}`, message: `Gateways ${certs.map(([g]) => g).join(', ')} send to port ${b.port} with different backend client certificates; none is presented` });
    const upstreamTls: UpstreamTlsConfig = {
      ...(own !== null ? { clientCertificate: { secret: certificateSecretName(own.namespace, own.name) } } : {}),
      sni: t.sni,
      ...(t.cas.length > 0 ? { caSecrets: t.cas.map((c) => caSecretName(c.namespace, c.name)) } : {}),
      ...(t.systemCas ? { systemCas: true } : {}),
      ...(t.subjectAltNames.length > 0 ? { subjectAltNames: t.subjectAltNames } : {}),
    };
    deduped.push(...clusterResources({ ...cluster, upstreamTls }));
    if (own !== null && !seenSecrets.has(upstreamTls.clientCertificate!.secret!)) {
      seenSecrets.add(upstreamTls.clientCertificate!.secret!);
      deduped.push({ type: INGRESS_RESOURCE_TYPES.secret, name: upstreamTls.clientCertificate!.secret!, body: { certificateChain: own.certificateChain, privateKey: own.privateKey, trustBundle: null } satisfies SecretResource });
    }
    for (const c of t.cas) {
      const n = caSecretName(c.namespace, c.name);
      if (seenSecrets.has(n)) continue;
      seenSecrets.add(n);
      deduped.push({ type: INGRESS_RESOURCE_TYPES.secret, name: n, body: { certificateChain: null, privateKey: null, trustBundle: c.pem } satisfies SecretResource });
    }
  }
  return { resources: deduped, problems };
}
