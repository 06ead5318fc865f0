// Gateway API at the edge, resolved (pure): which Gateways are Skein's (their GatewayClass names Skein's controller),
// which of their listeners are valid (protocol, certificates from TLS Secrets, cross-namespace only through a
// ReferenceGrant, conflicts), which HTTPRoutes / GRPCRoutes attach to which listeners (sectionName, port, allowed
// namespaces and kinds, hostnames intersection), and every outcome the status writer reports. Translation to the ingress
// proxy's resources (translate-ingress.ts) and status (desired-status.ts) both read this one result.
import { X509Certificate } from 'node:crypto';
import type { V1ConfigMap, V1EndpointSlice, V1Namespace, V1Secret, V1Service } from '@kubernetes/client-node';
import {
  GATEWAY_API_GROUP,
  SKEIN_CONTROLLER_NAME,
  type FrontendTLSValidation,
  type Gateway,
  type GatewayClass,
  type GatewayListener,
  type GatewayStatusAddress,
  type GRPCRoute,
  type HTTPRoute,
  type LabelSelector,
  type ParentReference,
  type ReferenceGrant,
} from '../../api/crd/gateway-api.ts';
import type { ConditionOutcome } from './traffic-policy-resolution.ts';
import { GATEWAY_SERVICES_ANNOTATION, INGRESS_SERVICE_LABEL, ownGatewayService, PER_GATEWAY, perGatewayServices, sharedIngressService } from './gateway-services.ts';
import { compileRouteRules, serviceBackendResolver, type BackendPort, type RankedRoute, type RefProblem, type RouteKind } from './route-rules.ts';

export { INGRESS_SERVICE_LABEL };
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

export interface GatewayInputs {
  readonly gatewayClasses: readonly GatewayClass[];
  readonly gateways: readonly Gateway[];
  readonly httpRoutes: readonly HTTPRoute[];
  readonly grpcRoutes: readonly GRPCRoute[];
  readonly referenceGrants: readonly ReferenceGrant[];
  /** Secrets of type kubernetes.io/tls (others are never read). */
  readonly secrets: readonly V1Secret[];
  /** ConfigMaps: the CA certificates (`ca.crt`) of client certificate validation. Absent: none. */
  readonly configMaps?: readonly V1ConfigMap[];
  readonly services: readonly V1Service[];
  readonly namespaces: readonly V1Namespace[];
  /** To tell when a per-Gateway Service routes somewhere (its address is given only then); absent: not checked. */
  readonly endpointSlices?: readonly V1EndpointSlice[];
}

/** A certificate a listener serves: the Secret's PEM, named for the proxy's `secret` resource. */
export interface ListenerCertificate {
  readonly namespace: string;
  readonly name: string;
  readonly certificateChain: string;
  readonly privateKey: string;
}

/** A CA certificate bundle a listener trusts for client certificates: a ConfigMap's `ca.crt`. */
export interface ListenerClientCa {
  readonly namespace: string;
  readonly name: string;
  readonly pem: string;
}

/** The client certificate validation of an HTTPS listener (the Gateway's spec.tls.frontend for its port). */
export interface ListenerClientValidation {
  readonly mode: 'require' | 'allow-insecure-fallback';
  readonly cas: readonly ListenerClientCa[];
}

/** A route attached to a listener: its compiled rules and the hostnames it serves there (intersection; `*`: any). */
export interface AttachedRoute {
  readonly kind: RouteKind;
  readonly namespace: string;
  readonly name: string;
  readonly hostnames: readonly string[];
  readonly rules: readonly RankedRoute[];
}

export interface ListenerOutcome {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'HTTP' | 'HTTPS' | string;
  readonly hostname: string | null;
  readonly supportedKinds: readonly { readonly group: string; readonly kind: string }[];
  readonly allowedRoutes: GatewayListener['allowedRoutes'];
  readonly accepted: ConditionOutcome;
  readonly resolvedRefs: ConditionOutcome;
  readonly conflicted: ConditionOutcome;
  readonly programmed: ConditionOutcome;
  /** True when the proxy serves it (accepted, refs resolved, no conflict). */
  readonly valid: boolean;
  readonly certificates: readonly ListenerCertificate[];
  /** Client certificate validation (HTTPS listeners of a Gateway with spec.tls.frontend); null: none. */
  readonly clientValidation: ListenerClientValidation | null;
  readonly routes: AttachedRoute[];
}

export interface GatewayOutcome {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly accepted: ConditionOutcome;
  readonly programmed: ConditionOutcome;
  /** InsecureFrontendValidationMode True (ConfigurationChanged): a frontend validation allows insecure fallback; null: absent. */
  readonly insecureFrontend: ConditionOutcome | null;
  /** The certificate the ingress presents to TLS backends of this Gateway's routes (spec.tls.backend.clientCertificateRef). */
  readonly backendClientCertificate: ListenerCertificate | null;
  /** The Gateway's ResolvedRefs condition, written only when spec.tls.backend names a client certificate; null: absent. */
  readonly resolvedRefs: ConditionOutcome | null;
  readonly addresses: readonly GatewayStatusAddress[];
  readonly listeners: readonly ListenerOutcome[];
  /** The Gateway's edge-policy annotation, as written (parsed by translation). */
  readonly annotations: Readonly<Record<string, string>>;
}

export interface GatewayClassOutcome {
  readonly name: string;
  readonly generation: number;
  readonly accepted: ConditionOutcome;
}

export interface GatewayParentOutcome {
  readonly parentRef: ParentReference;
  readonly accepted: ConditionOutcome;
  readonly resolvedRefs: ConditionOutcome;
}

export interface GatewayRouteOutcome {
  readonly kind: RouteKind;
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly parents: readonly GatewayParentOutcome[];
}

export interface ResolvedGateways {
  readonly classes: readonly GatewayClassOutcome[];
  readonly gateways: readonly GatewayOutcome[];
  readonly routes: readonly GatewayRouteOutcome[];
  /** Service ports the attached routes send to (backends and mirrors). */
  readonly backends: readonly BackendPort[];
}

const ok = (reason: string, message: string): ConditionOutcome => ({ status: 'True', reason, message });
const no = (reason: string, message: string): ConditionOutcome => ({ status: 'False', reason, message });

const key = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;

function isGatewayParent(p: ParentReference): boolean {
  return (p.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP && (p.kind ?? 'Gateway') === 'Gateway';
}

function labelsMatch(labels: Readonly<Record<string, string>>, sel: LabelSelector | undefined): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const v = labels[e.key];
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(v!))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(v!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** Does a ReferenceGrant in the target's namespace let `from` (group/kind in fromNs) refer to it? */
export function referenceGranted(
  grants: readonly ReferenceGrant[],
  from: { readonly group: string; readonly kind: string; readonly namespace: string },
  to: { readonly group: string; readonly kind: string; readonly namespace: string; readonly name: string },
): boolean {
  return grants.some(
    (g) =>
      g.metadata.namespace === to.namespace &&
      (g.spec?.from ?? []).some((f) => (f.group ?? '') === from.group && f.kind === from.kind && f.namespace === from.namespace) &&
      (g.spec?.to ?? []).some((t) => (t.group ?? '') === to.group && t.kind === to.kind && (t.name === undefined || t.name === '' || t.name === to.name)),
  );
}

/**
 * Gateway API hostname intersection of a listener's hostname (null: any) and a route's hostnames (empty: any). The
 * result is what the route serves on that listener: the more specific of each matching pair; `*` means any host.
 */
export function intersectHostnames(listener: string | null, route: readonly string[]): string[] {
  const l = listener?.toLowerCase() ?? null;
  const rs = route.map((h) => h.toLowerCase());
  if (l === null) return rs.length === 0 ? ['*'] : [...new Set(rs)];
  if (rs.length === 0) return [l];
  const out = new Set<string>();
  const covers = (wild: string, host: string): boolean => wild.startsWith('*.') && host.endsWith(wild.slice(1)) && host.length > wild.length - 1;
  for (const r of rs) {
    if (r === l) out.add(r);
    else if (covers(l, r)) out.add(r);
    else if (covers(r, l)) out.add(l);
  }
  return [...out];
}

const HTTP_KINDS = [
  { group: GATEWAY_API_GROUP, kind: 'HTTPRoute' },
  { group: GATEWAY_API_GROUP, kind: 'GRPCRoute' },
] as const;

/** The listener's protocol, its route kinds, and what is wrong with the kinds it asked for. */
function listenerKinds(l: GatewayListener): { kinds: { group: string; kind: string }[]; invalid: string[] } {
  const asked = l.allowedRoutes?.kinds;
  if (!asked || asked.length === 0) return { kinds: [...HTTP_KINDS], invalid: [] };
  const kinds: { group: string; kind: string }[] = [];
  const invalid: string[] = [];
  for (const k of asked) {
    const group = k.group ?? GATEWAY_API_GROUP;
    if (group === GATEWAY_API_GROUP && (k.kind === 'HTTPRoute' || k.kind === 'GRPCRoute')) kinds.push({ group, kind: k.kind });
    else invalid.push(`${group}/${k.kind}`);
  }
  return { kinds, invalid };
}

/**
 * The addresses of the ingress Service that fronts a Gateway: its own, else the one for all Gateways; with a Service per
 * Gateway (gateway-services.ts), only its own (none until the control plane made it: the shared address would mix Gateways).
 */
function gatewayAddresses(services: readonly V1Service[], ns: string, name: string, slices: readonly V1EndpointSlice[] | undefined): GatewayStatusAddress[] {
  const perGateway = perGatewayServices(services);
  const svc = perGateway
    ? ownGatewayService(services, ns, name)
    : (services.find((s) => s.metadata?.labels?.[INGRESS_SERVICE_LABEL] === `${ns}.${name}`) ?? sharedIngressService(services));
  if (!svc) return [];
  // A new Service's address routes nowhere until its endpoints exist (the node's kube-proxy programs it from the same
  // EndpointSlice): a client given it earlier may reach whatever else answers that address, and keep that connection.
  if (perGateway && slices !== undefined && !hasReadyEndpoint(slices, svc)) return [];
  const out: GatewayStatusAddress[] = [];
  for (const i of svc.status?.loadBalancer?.ingress ?? []) {
    if (i.ip) out.push({ type: 'IPAddress', value: i.ip });
    else if (i.hostname) out.push({ type: 'Hostname', value: i.hostname });
  }
  if (out.length === 0) for (const ip of svc.spec?.externalIPs ?? []) out.push({ type: 'IPAddress', value: ip });
  if (out.length === 0 && svc.spec?.clusterIP && svc.spec.clusterIP !== 'None') out.push({ type: 'IPAddress', value: svc.spec.clusterIP });
  return out;
}

function hasReadyEndpoint(slices: readonly V1EndpointSlice[], svc: V1Service): boolean {
  return slices.some(
    (sl) =>
      sl.metadata?.namespace === svc.metadata?.namespace &&
      sl.metadata?.labels?.['kubernetes.io/service-name'] === svc.metadata?.name &&
      (sl.endpoints ?? []).some((e) => e.conditions?.ready !== false && (e.addresses ?? []).length > 0),
  );
}

function pemOf(secret: V1Secret, field: string): string | null {
  const b64 = secret.data?.[field];
  if (typeof b64 !== 'string' || b64 === '') return null;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  return text.includes('-----BEGIN ') ? text : null;
}

interface ListenerDraft {
  readonly l: GatewayListener;
  readonly kinds: { group: string; kind: string }[];
  accepted: ConditionOutcome;
  resolvedRefs: ConditionOutcome;
  conflicted: ConditionOutcome;
  certificates: ListenerCertificate[];
  clientValidation: ListenerClientValidation | null;
}

/** The frontend validation that applies to HTTPS listeners on `port`: the port's own entry (even without validation), else the default. */
export function frontendValidationFor(g: Gateway, port: number): FrontendTLSValidation | null {
  const f = g.spec?.tls?.frontend;
  if (!f) return null;
  const own = (f.perPort ?? []).find((p) => p.port === port);
  return (own !== undefined ? own.tls?.validation : f.default?.validation) ?? null;
}

/**
 * Resolves a validation's CA references (core ConfigMaps with a PEM `ca.crt` of CA certificates; another namespace only
 * through a ReferenceGrant), each problem with the reason the Gateway API gives it.
 */
function resolveClientCas(
  v: FrontendTLSValidation,
  ns: string,
  configMaps: ReadonlyMap<string, V1ConfigMap>,
  grants: readonly ReferenceGrant[],
): { cas: ListenerClientCa[]; problems: RefProblem[] } {
  const cas: ListenerClientCa[] = [];
  const problems: RefProblem[] = [];
  for (const ref of v.caCertificateRefs ?? []) {
    const rns = ref.namespace ?? ns;
    if ((ref.group ?? '') !== '' || ref.kind !== 'ConfigMap') {
      problems.push({ reason: 'InvalidCACertificateKind', message: `caCertificateRef ${ref.group ? `${ref.group}/` : ''}${ref.kind} ${ref.name}: only core ConfigMaps are supported` });
      continue;
    }
    if (rns !== ns && !referenceGranted(grants, { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: ns }, { group: '', kind: 'ConfigMap', namespace: rns, name: ref.name })) {
      problems.push({ reason: 'RefNotPermitted', message: `caCertificateRef ConfigMap ${rns}/${ref.name}: no ReferenceGrant in ${rns} lets Gateways of ${ns} refer to it` });
      continue;
    }
    const cm = configMaps.get(key(rns, ref.name));
    const pem = cm?.data?.['ca.crt'];
    const bad = !cm ? 'not found' : typeof pem !== 'string' || pem.trim() === '' ? 'has no ca.crt key' : caBundleProblem(pem);
    if (bad !== null) {
      problems.push({ reason: 'InvalidCACertificateRef', message: `caCertificateRef ConfigMap ${rns}/${ref.name}: ${bad}` });
      continue;
    }
    cas.push({ namespace: rns, name: ref.name, pem: pem! });
  }
  return { cas, problems };
}

/** What is wrong with a PEM bundle of CA certificates (null: every block is a CA certificate, and there is one at least). */
export function caBundleProblem(pem: string): string | null {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'ca.crt holds no PEM certificate';
  for (const b of blocks) {
    let x: X509Certificate;
    try {
      x = new X509Certificate(b);
    } catch {
      return 'ca.crt holds a certificate that does not parse';
    }
    if (!x.ca) return `ca.crt holds a certificate that is not a CA (${x.subject.replace(/\n/g, ', ')})`;
  }
  return null;
}

/**
 * The Gateway's client certificate toward TLS backends (spec.tls.backend.clientCertificateRef): a kubernetes.io/tls Secret
 * of its namespace, or of another through a ReferenceGrant; the Gateway's ResolvedRefs condition says which it is.
 */
function backendClientCertificate(
  g: Gateway,
  ns: string,
  secrets: ReadonlyMap<string, V1Secret>,
  grants: readonly ReferenceGrant[],
): { cert: ListenerCertificate | null; condition: ConditionOutcome | null } {
  const ref = g.spec?.tls?.backend?.clientCertificateRef;
  if (!ref) return { cert: null, condition: null };
  const rns = ref.namespace ?? ns;
  if ((ref.group ?? '') !== '' || (ref.kind ?? 'Secret') !== 'Secret') {
    return { cert: null, condition: no('InvalidClientCertificateRef', `clientCertificateRef ${ref.group ? `${ref.group}/` : ''}${ref.kind ?? 'Secret'} ${ref.name}: only core Secrets are supported`) };
  }
  if (rns !== ns && !referenceGranted(grants, { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: ns }, { group: '', kind: 'Secret', namespace: rns, name: ref.name })) {
    return { cert: null, condition: no('RefNotPermitted', `clientCertificateRef Secret ${rns}/${ref.name}: no ReferenceGrant in ${rns} lets Gateways of ${ns} refer to it`) };
  }
  const s = secrets.get(key(rns, ref.name));
  const chain = s ? pemOf(s, 'tls.crt') : null;
  const pkey = s ? pemOf(s, 'tls.key') : null;
  if (!s || s.type !== TLS_SECRET_TYPE || chain === null || pkey === null) {
    return { cert: null, condition: no('InvalidClientCertificateRef', `clientCertificateRef Secret ${rns}/${ref.name} ${!s ? 'not found (or not of type kubernetes.io/tls)' : `is not a ${TLS_SECRET_TYPE} Secret with PEM tls.crt and tls.key`}`) };
  }
  return { cert: { namespace: rns, name: ref.name, certificateChain: chain, privateKey: pkey }, condition: ok('ResolvedRefs', 'every reference of the Gateway resolves') };
}

/** InsecureFrontendValidationMode: True (ConfigurationChanged) while the default or a port's validation allows insecure fallback. */
function insecureFrontendOf(g: Gateway): ConditionOutcome | null {
  const f = g.spec?.tls?.frontend;
  const ports = (f?.perPort ?? []).filter((p) => p.tls?.validation?.mode === 'AllowInsecureFallback').map((p) => p.port);
  const byDefault = f?.default?.validation?.mode === 'AllowInsecureFallback';
  if (!byDefault && ports.length === 0) return null;
  const where = [...(byDefault ? ['by default'] : []), ...(ports.length > 0 ? [`on port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}`] : [])].join(' and ');
  return ok('ConfigurationChanged', `client certificate validation allows insecure fallback ${where}: clients without a valid certificate are served`);
}

export function resolveGateways(inputs: GatewayInputs): ResolvedGateways {
  const ours = new Map<string, GatewayClass>();
  const classes: GatewayClassOutcome[] = [];
  for (const c of [...inputs.gatewayClasses].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    if (c.spec?.controllerName !== SKEIN_CONTROLLER_NAME) continue;
    ours.set(c.metadata.name, c);
    classes.push({ name: c.metadata.name, generation: c.metadata.generation ?? 0, accepted: ok('Accepted', 'Skein serves Gateways of this class') });
  }
  const services = new Map(inputs.services.map((s) => [key(s.metadata?.namespace, s.metadata?.name ?? ''), s]));
  const secrets = new Map(inputs.secrets.map((s) => [key(s.metadata?.namespace, s.metadata?.name ?? ''), s]));
  const configMaps = new Map((inputs.configMaps ?? []).map((c) => [key(c.metadata?.namespace, c.metadata?.name ?? ''), c]));
  const nsLabels = new Map(inputs.namespaces.map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}]));
  const grants = inputs.referenceGrants;

  const gateways: GatewayOutcome[] = [];
  const byKey = new Map<string, GatewayOutcome>();
  const sortedGateways = [...inputs.gateways].sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)));
  for (const g of sortedGateways) {
    if (!ours.has(g.spec?.gatewayClassName)) continue;
    const ns = g.metadata.namespace ?? '';
    const drafts: ListenerDraft[] = (g.spec.listeners ?? []).map((l) => {
      const { kinds, invalid } = listenerKinds(l);
      const d: ListenerDraft = {
        l,
        kinds,
        accepted: ok('Accepted', 'the listener is accepted'),
        resolvedRefs: ok('ResolvedRefs', 'every reference resolves'),
        conflicted: no('NoConflicts', 'no conflict with another listener'),
        certificates: [],
        clientValidation: null,
      };
      if (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS') {
        d.accepted = no('UnsupportedProtocol', `protocol ${l.protocol} is not supported (HTTP and HTTPS are)`);
        return d;
      }
      if (invalid.length > 0) d.resolvedRefs = no('InvalidRouteKinds', `route kinds not supported: ${invalid.join(', ')}`);
      if (l.protocol === 'HTTPS') {
        if ((l.tls?.mode ?? 'Terminate') !== 'Terminate') {
          d.accepted = no('UnsupportedProtocol', 'TLS mode Passthrough is not supported on an HTTPS listener');
          return d;
        }
        const problems: RefProblem[] = [];
        for (const ref of l.tls?.certificateRefs ?? []) {
          const rns = ref.namespace ?? ns;
          if ((ref.group ?? '') !== '' || (ref.kind ?? 'Secret') !== 'Secret') {
            problems.push({ reason: 'InvalidCertificateRef', message: `certificateRef ${ref.group ?? ''}/${ref.kind} ${ref.name}: only core Secrets are supported` });
            continue;
          }
          if (rns !== ns && !referenceGranted(grants, { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: ns }, { group: '', kind: 'Secret', namespace: rns, name: ref.name })) {
            problems.push({ reason: 'RefNotPermitted', message: `certificateRef Secret ${rns}/${ref.name}: no ReferenceGrant in ${rns} lets Gateways of ${ns} refer to it` });
            continue;
          }
          const s = secrets.get(key(rns, ref.name));
          const chain = s ? pemOf(s, 'tls.crt') : null;
          const pkey = s ? pemOf(s, 'tls.key') : null;
          if (!s || s.type !== TLS_SECRET_TYPE || chain === null || pkey === null) {
            problems.push({ reason: 'InvalidCertificateRef', message: `certificateRef Secret ${rns}/${ref.name} ${!s ? 'not found' : `is not a ${TLS_SECRET_TYPE} Secret with PEM tls.crt and tls.key`}` });
            continue;
          }
          d.certificates.push({ namespace: rns, name: ref.name, certificateChain: chain, privateKey: pkey });
        }
        if ((l.tls?.certificateRefs ?? []).length === 0) problems.push({ reason: 'InvalidCertificateRef', message: 'an HTTPS listener needs a certificateRef' });
        // Client certificate validation of the listener's port (spec.tls.frontend): without one valid CA the listener is
        // not accepted (NoValidCACertificate); with any invalid CA reference it is not served (ResolvedRefs False).
        const v = frontendValidationFor(g, l.port);
        if (v !== null) {
          const r = resolveClientCas(v, ns, configMaps, grants);
          problems.push(...r.problems);
          if (r.cas.length === 0) d.accepted = no('NoValidCACertificate', `no valid CA certificate for client certificate validation on port ${l.port}: ${r.problems.map((p) => p.message).join('; ')}`);
          else d.clientValidation = { mode: v.mode === 'AllowInsecureFallback' ? 'allow-insecure-fallback' : 'require', cas: r.cas };
        }
        if (problems.length > 0) d.resolvedRefs = no(problems[0]!.reason, problems.map((p) => p.message).join('; '));
      }
      return d;
    });
    // Conflicts within the Gateway: one port speaks one protocol; one hostname per port and protocol.
    const byPort = new Map<number, ListenerDraft[]>();
    for (const d of drafts) {
      if (d.accepted.status !== 'True') continue;
      let list = byPort.get(d.l.port);
      if (!list) byPort.set(d.l.port, (list = []));
      list.push(d);
    }
    for (const [port, list] of byPort) {
      if (new Set(list.map((d) => d.l.protocol)).size > 1) {
        for (const d of list) d.conflicted = ok('ProtocolConflict', `port ${port} is used with another protocol by another listener`);
        continue;
      }
      const seen = new Map<string, number>();
      for (const d of list) seen.set(d.l.hostname ?? '', (seen.get(d.l.hostname ?? '') ?? 0) + 1);
      for (const d of list) if ((seen.get(d.l.hostname ?? '') ?? 0) > 1) d.conflicted = ok('HostnameConflict', `another listener on port ${port} has the same hostname`);
    }
    const listeners: ListenerOutcome[] = drafts.map((d) => {
      const valid = d.accepted.status === 'True' && d.resolvedRefs.status === 'True' && d.conflicted.status === 'False';
      return {
        name: d.l.name,
        port: d.l.port,
        protocol: d.l.protocol,
        hostname: d.l.hostname ?? null,
        supportedKinds: d.accepted.status === 'True' ? d.kinds : [],
        allowedRoutes: d.l.allowedRoutes,
        accepted: d.accepted,
        resolvedRefs: d.resolvedRefs,
        conflicted: d.conflicted,
        programmed: valid ? ok('Programmed', 'the ingress serves this listener') : no('Invalid', 'the listener is not valid (see its other conditions)'),
        valid,
        certificates: d.certificates,
        clientValidation: valid ? d.clientValidation : null,
        routes: [],
      };
    });
    const addresses = gatewayAddresses(inputs.services, ns, g.metadata.name, inputs.endpointSlices);
    const backendCert = backendClientCertificate(g, ns, secrets, grants);
    const anyValid = listeners.some((l) => l.valid);
    const out: GatewayOutcome = {
      namespace: ns,
      name: g.metadata.name,
      generation: g.metadata.generation ?? 0,
      // Accepted while one listener is; the reason names listeners that are not (True or False, as the API specifies).
      accepted:
        listeners.length === 0 || listeners.every((l) => l.accepted.status === 'True')
          ? ok('Accepted', 'the Gateway is accepted')
          : listeners.some((l) => l.accepted.status === 'True')
            ? ok('ListenersNotValid', `the Gateway is accepted; listeners not accepted: ${listeners.filter((l) => l.accepted.status !== 'True').map((l) => l.name).join(', ')}`)
            : no('ListenersNotValid', 'no listener is accepted'),
      programmed: !anyValid
        ? no('Invalid', 'no listener is valid')
        : addresses.length === 0
          ? no(
              'AddressNotAssigned',
              perGatewayServices(inputs.services)
                ? `the control plane has not made this Gateway's own Service yet (${GATEWAY_SERVICES_ANNOTATION}: ${PER_GATEWAY})`
                : `no ingress Service (label ${INGRESS_SERVICE_LABEL}=all or ${ns}.${g.metadata.name}) gives the Gateway an address`,
            )
          : ok('Programmed', 'the ingress serves this Gateway'),
      insecureFrontend: insecureFrontendOf(g),
      backendClientCertificate: backendCert.cert,
      resolvedRefs: backendCert.condition,
      addresses,
      listeners,
      annotations: g.metadata.annotations ?? {},
    };
    gateways.push(out);
    byKey.set(key(ns, g.metadata.name), out);
  }

  // Routes: attach each to the listeners its Gateway parentRefs select.
  const routes: GatewayRouteOutcome[] = [];
  const backends = new Map<string, BackendPort>();
  const all: { kind: RouteKind; r: HTTPRoute | GRPCRoute }[] = [
    ...inputs.httpRoutes.map((r) => ({ kind: 'HTTPRoute' as const, r })),
    ...inputs.grpcRoutes.map((r) => ({ kind: 'GRPCRoute' as const, r })),
  ].sort((a, b) => `${a.kind}/${a.r.metadata?.namespace}/${a.r.metadata?.name}`.localeCompare(`${b.kind}/${b.r.metadata?.namespace}/${b.r.metadata?.name}`));
  for (const { kind, r } of all) {
    const ns = r.metadata?.namespace ?? '';
    const parents = (r.spec?.parentRefs ?? []).filter(isGatewayParent).filter((p) => byKey.has(key(p.namespace ?? ns, p.name)));
    if (parents.length === 0) continue;
    const refProblems: RefProblem[] = [];
    const used: BackendPort[] = [];
    const resolve = serviceBackendResolver(ns, services, refProblems, (b) => used.push(b), (bns, name) =>
      referenceGranted(grants, { group: GATEWAY_API_GROUP, kind, namespace: ns }, { group: '', kind: 'Service', namespace: bns, name })
        ? null
        : `no ReferenceGrant in ${bns} lets ${kind}s of ${ns} refer to it`,
    );
    const rules = compileRouteRules(kind, r, { resolve, cors: true });
    const resolvedRefs: ConditionOutcome =
      refProblems.length === 0 ? ok('ResolvedRefs', 'every reference resolves') : no(refProblems[0]!.reason, refProblems.map((p) => p.message).join('; '));
    const outcomes: GatewayParentOutcome[] = [];
    let attachedAnywhere = false;
    for (const parent of parents) {
      const g = byKey.get(key(parent.namespace ?? ns, parent.name))!;
      const candidates = g.listeners.filter((l) => (parent.sectionName === undefined || l.name === parent.sectionName) && (parent.port === undefined || l.port === parent.port));
      if (candidates.length === 0) {
        outcomes.push({ parentRef: parent, accepted: no('NoMatchingParent', `Gateway ${g.namespace}/${g.name} has no listener${parent.sectionName ? ` named ${parent.sectionName}` : ''}${parent.port ? ` on port ${parent.port}` : ''}`), resolvedRefs });
        continue;
      }
      const allowed = candidates.filter((l) => {
        const src = l.allowedRoutes?.namespaces;
        const from = src?.from ?? 'Same';
        const nsOk = from === 'All' || (from === 'Same' && ns === g.namespace) || (from === 'Selector' && labelsMatch(nsLabels.get(ns) ?? {}, src?.selector));
        return nsOk && l.supportedKinds.some((k) => k.kind === kind);
      });
      if (allowed.length === 0) {
        outcomes.push({ parentRef: parent, accepted: no('NotAllowedByListeners', `no listener of Gateway ${g.namespace}/${g.name} allows ${kind}s from namespace ${ns}`), resolvedRefs });
        continue;
      }
      const hostnames = r.spec?.hostnames ?? [];
      let matched = 0;
      for (const l of allowed) {
        const hosts = intersectHostnames(l.hostname, hostnames);
        if (hosts.length === 0) continue;
        matched++;
        // An invalid listener still counts the routes that attach to it (attachedRoutes), but serves nothing.
        l.routes.push({ kind, namespace: ns, name: r.metadata.name, hostnames: hosts, rules });
      }
      if (matched === 0) {
        outcomes.push({ parentRef: parent, accepted: no('NoMatchingListenerHostname', `no listener of Gateway ${g.namespace}/${g.name} matches the route's hostnames`), resolvedRefs });
        continue;
      }
      attachedAnywhere = true;
      outcomes.push({ parentRef: parent, accepted: ok('Accepted', `attached to Gateway ${g.namespace}/${g.name}`), resolvedRefs });
    }
    if (attachedAnywhere) for (const b of used) backends.set(`${b.namespace}/${b.name}:${b.port}`, b);
    routes.push({ kind, namespace: ns, name: r.metadata.name, generation: r.metadata.generation ?? 0, parents: outcomes });
  }
  return { classes, gateways, routes, backends: [...backends.values()] };
}
