// Turns an untrusted config document (from a file or the control plane) into a ProxyConfig, or every problem at once.
import type { ErrorObject } from 'ajv';
import { RE2JS } from 're2js';
import { err, ok, type Result } from '../result.ts';
import {
  DEFAULT_ADMIN_PORT,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_INBOUND_CONNECT_TIMEOUT_MS,
  DEFAULT_LIMITS,
  DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT,
  DEFAULT_OUTBOUND_CONNECT_TIMEOUT_MS,
  DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS,
} from './proxy-config-defaults.ts';
import { checkSpiffeId, parseAuthorization, parseInboundMtls, parseMeshTls } from './parse-mesh-identity-config.ts';
import { parseEdgePolicies } from './parse-edge-policy-config.ts';
import { parseCircuitBreaker, parseLocalRateLimit, parseOutlierDetection, parseRoutePolicies } from './parse-policy-config.ts';
import { validateProxyConfigDocument } from './proxy-config-validator.generated.ts';
import { DEFAULT_TELEMETRY } from './telemetry-config-defaults.ts';
import type { DestinationMetadata, TelemetryConfig } from './telemetry-config.ts';
import type {
  ClientValidationConfig,
  ClusterConfig,
  HeaderMutationConfig,
  ListenerConfig,
  PathModifierConfig,
  ProxyConfig,
  ProxyMode,
  RouteConfig,
  TlsCertificateConfig,
  UpstreamTlsConfig,
  VirtualHostConfig,
} from './proxy-config.ts';

/** One thing wrong with a config document: where (a JSON path such as `listeners[0].port`) and what. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

// Precompiled from proxyConfigSchema (scripts/gen-config-validator.ts): compiling it here cost every proxy ~9 MB RSS.
const validate = validateProxyConfigDocument;

function pointerToPath(pointer: string): string {
  let out = '';
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out === '' ? '(root)' : out;
}

function describeAjvError(e: ErrorObject): ConfigProblem {
  const at = pointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: at === '(root)' ? String(p.additionalProperty) : `${at}.${String(p.additionalProperty)}`, message: 'unknown field' };
    case 'required':
      return { path: at === '(root)' ? String(p.missingProperty) : `${at}.${String(p.missingProperty)}`, message: 'is required' };
    case 'enum':
      return { path: at, message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    default:
      return { path: at, message: e.message ?? e.keyword };
  }
}

// The input form, as the schema allows it (every optional field may be missing).
type In<T> = { -readonly [K in keyof T]?: T[K] extends readonly (infer U)[] ? In<U>[] : T[K] extends object | null ? In<NonNullable<T[K]>> : T[K] };

function mutation(m: In<HeaderMutationConfig> | undefined): HeaderMutationConfig {
  return {
    set: lowerKeys(m?.set),
    add: lowerKeys(m?.add),
    remove: (m?.remove ?? []).map((h) => String(h).toLowerCase()),
  };
}

function lowerKeys(r: Readonly<Record<string, string | undefined>> | undefined): Readonly<Record<string, string>> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(r ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

function checkRegex(pattern: string, path: string, problems: ConfigProblem[]): void {
  try {
    RE2JS.compile(pattern);
  } catch (e) {
    problems.push({ path, message: `invalid regular expression (RE2 syntax): ${(e as Error).message}` });
  }
}

/** Validates `doc` against the schema, then checks cross-references, then applies defaults. */
export function parseProxyConfig(doc: unknown): Result<ProxyConfig, readonly ConfigProblem[]> {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return err([{ path: '(root)', message: 'must be an object' }]);
  }
  if (!validate(doc)) {
    const seen = new Set<string>();
    const problems: ConfigProblem[] = [];
    for (const e of validate.errors ?? []) {
      const p = describeAjvError(e);
      const key = `${p.path}\u0000${p.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        problems.push(p);
      }
    }
    return err(problems);
  }
  const input = doc as In<ProxyConfig>;
  const problems: ConfigProblem[] = [];
  const mode: ProxyMode = input.mode ?? 'sidecar';

  const clusterNames = new Set<string>();
  (input.clusters ?? []).forEach((c, i) => {
    if (clusterNames.has(c.name!)) problems.push({ path: `clusters[${i}].name`, message: `duplicate cluster name "${c.name}"` });
    clusterNames.add(c.name!);
    const lb = c.loadBalancer;
    if (lb?.policy === 'ring-hash' && !lb.hashOn) {
      problems.push({ path: `clusters[${i}].loadBalancer.hashOn`, message: 'is required for policy "ring-hash"' });
    }
    if (lb?.hashOn && lb.hashOn.type !== 'source-ip' && !(lb.hashOn as { name?: string }).name) {
      problems.push({ path: `clusters[${i}].loadBalancer.hashOn.name`, message: `is required for hashOn type "${lb.hashOn.type}"` });
    }
  });

  const inboundOnly = new Map<string, boolean>();
  const note = (cluster: string, direction: string | undefined): void => {
    const inbound = direction === 'inbound';
    inboundOnly.set(cluster, (inboundOnly.get(cluster) ?? true) && inbound);
  };

  const listenerNames = new Set<string>();
  const ports = new Map<string, number>();
  const listeners: ListenerConfig[] = (input.listeners ?? []).map((l, li) => {
    const at = `listeners[${li}]`;
    if (listenerNames.has(l.name!)) problems.push({ path: `${at}.name`, message: `duplicate listener name "${l.name}"` });
    listenerNames.add(l.name!);
    const address = l.address ?? '0.0.0.0';
    const key = `${address}:${l.port}`;
    if (l.port !== 0 && ports.has(key)) problems.push({ path: `${at}.port`, message: `port ${l.port} is already used by listeners[${ports.get(key)}]` });
    ports.set(key, li);
    const direction = l.direction ?? (mode === 'ingress' ? 'ingress' : 'outbound');
    if (l.tcpCluster !== undefined && l.tcpCluster !== null) {
      if (!clusterNames.has(l.tcpCluster)) problems.push({ path: `${at}.tcpCluster`, message: `unknown cluster "${l.tcpCluster}"` });
      note(l.tcpCluster, direction);
    }
    const virtualHosts: VirtualHostConfig[] = (l.virtualHosts ?? []).map((vh, vi) => {
      const vat = `${at}.virtualHosts[${vi}]`;
      const routes: RouteConfig[] = (vh.routes ?? []).map((r, ri) => {
        const rat = `${vat}.routes[${ri}]`;
        const backends = (r.backends ?? []).map((b, bi) => {
          if (!clusterNames.has(b.cluster!)) problems.push({ path: `${rat}.backends[${bi}].cluster`, message: `unknown cluster "${b.cluster}"` });
          note(b.cluster!, direction);
          return { cluster: b.cluster!, weight: b.weight ?? 1, ...(b.requestHeaders ? { requestHeaders: mutation(b.requestHeaders as In<HeaderMutationConfig>) } : {}) };
        });
        if (backends.length === 0 && !r.directResponse && !r.redirect) {
          problems.push({ path: `${rat}`, message: 'needs backends, a directResponse or a redirect' });
        } else if (backends.length > 0 && backends.every((b) => b.weight === 0)) {
          problems.push({ path: `${rat}.backends`, message: 'at least one backend needs a weight above 0' });
        }
        const m = r.match ?? {};
        for (const [field, mod] of [['redirect', r.redirect?.path], ['rewrite', r.rewrite?.path]] as const) {
          if (mod?.type === 'prefix' && m.path?.type !== 'prefix') {
            problems.push({ path: `${rat}.${field}.path`, message: 'type "prefix" replaces the matched prefix: the route needs a match.path of type "prefix"' });
          }
        }
        if (r.redirect && r.rewrite) problems.push({ path: `${rat}.rewrite`, message: 'a route that redirects does not forward: redirect and rewrite exclude each other' });
        if (m.path?.type === 'regex') checkRegex(m.path.value!, `${rat}.match.path.value`, problems);
        if ((m.path?.type === 'exact' || m.path?.type === 'prefix') && !m.path.value!.startsWith('/')) {
          problems.push({ path: `${rat}.match.path.value`, message: 'must start with "/"' });
        }
        (m.headers ?? []).forEach((h, hi) => {
          if (h.type === 'regex') checkRegex(h.value ?? '', `${rat}.match.headers[${hi}].value`, problems);
          if ((h.type ?? 'exact') !== 'present' && h.value === undefined) {
            problems.push({ path: `${rat}.match.headers[${hi}].value`, message: 'is required unless type is "present"' });
          }
        });
        (m.query ?? []).forEach((q, qi) => {
          if (q.type === 'regex') checkRegex(q.value ?? '', `${rat}.match.query[${qi}].value`, problems);
          if ((q.type ?? 'exact') !== 'present' && q.value === undefined) {
            problems.push({ path: `${rat}.match.query[${qi}].value`, message: 'is required unless type is "present"' });
          }
        });
        return {
          name: r.name!,
          match: {
            path: m.path ? ({ type: m.path.type!, value: m.path.value! } as RouteConfig['match']['path']) : null,
            methods: (m.methods ?? []).map((x) => x.toUpperCase()),
            headers: (m.headers ?? []).map((h) => ({
              name: h.name!.toLowerCase(),
              type: h.type ?? 'exact',
              value: h.value ?? '',
              invert: h.invert ?? false,
            })),
            query: (m.query ?? []).map((q) => ({ name: q.name!, type: q.type ?? 'exact', value: q.value ?? '' })),
          },
          backends,
          directResponse: r.directResponse ? { status: r.directResponse.status!, body: r.directResponse.body ?? '' } : null,
          requestHeaders: mutation(r.requestHeaders),
          responseHeaders: mutation(r.responseHeaders),
          timeoutMs: r.timeoutMs ?? 0,
          redirect: r.redirect
            ? {
                scheme: r.redirect.scheme ?? null,
                hostname: r.redirect.hostname?.toLowerCase() ?? null,
                port: r.redirect.port ?? null,
                path: (r.redirect.path as PathModifierConfig | undefined) ?? null,
                statusCode: r.redirect.statusCode ?? 302,
              }
            : null,
          rewrite: r.rewrite ? { hostname: r.rewrite.hostname?.toLowerCase() ?? null, path: (r.rewrite.path as PathModifierConfig | undefined) ?? null } : null,
          edge: parseEdgePolicies(r.edge, `${rat}.edge`, problems),
          ...parseRoutePolicies(r, rat, clusterNames, problems),
        };
      });
      return { name: vh.name!, domains: (vh.domains ?? ['*']).map((d) => d.toLowerCase()), routes };
    });
    return {
      name: l.name!,
      address,
      port: l.port!,
      direction,
      protocol: l.protocol ?? 'detect',
      virtualHosts,
      tcpCluster: l.tcpCluster ?? null,
      tls: l.tls
        ? {
            ...certificateSource(l.tls, `${at}.tls`, problems),
            alpn: l.tls.alpn ?? ['h2', 'http/1.1'],
            certificates: (l.tls.certificates ?? []).map((c, ci) => certificateSource(c, `${at}.tls.certificates[${ci}]`, problems)),
            ...(l.tls.listenerHostnames !== undefined ? { listenerHostnames: [...new Set(l.tls.listenerHostnames)].sort() } : {}),
            ...(l.tls.clientValidation != null ? { clientValidation: parseClientValidation(l.tls.clientValidation, `${at}.tls.clientValidation`, problems) } : {}),
          }
        : null,
      rateLimit: parseLocalRateLimit(l.rateLimit),
      ...meshListenerFields(l, at, direction, problems),
      xffTrustedHops: l.xffTrustedHops ?? 0,
      edge: parseEdgePolicies(l.edge, `${at}.edge`, problems),
    };
  });

  const clusters: ClusterConfig[] = (input.clusters ?? []).map((c, ci) => ({
    name: c.name!,
    type: c.type ?? 'static',
    originalDestinationAddress: c.originalDestinationAddress ?? null,
    protocol: c.protocol ?? 'http1',
    // Only when set: configs without h2c ports keep their exact shape.
    ...(c.http2Ports !== undefined && c.http2Ports.length > 0 ? { http2Ports: [...c.http2Ports].sort((a, b) => a - b) } : {}),
    loadBalancer: {
      policy: c.loadBalancer?.policy ?? 'p2c-ewma',
      hashOn: (c.loadBalancer?.hashOn as ClusterConfig['loadBalancer']['hashOn'] | undefined) ?? null,
    },
    connectTimeoutMs:
      c.connectTimeoutMs ?? (inboundOnly.get(c.name!) === true ? DEFAULT_INBOUND_CONNECT_TIMEOUT_MS : DEFAULT_OUTBOUND_CONNECT_TIMEOUT_MS),
    idleTimeoutMs: c.idleTimeoutMs ?? DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS,
    maxConnectionsPerEndpoint: c.maxConnectionsPerEndpoint ?? DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT,
    endpoints: (c.endpoints ?? []).map((e, ei) => ({
      address: e.address!,
      port: e.port!,
      weight: e.weight ?? 1,
      // Only when set: configs without mesh identity keep their exact shape.
      ...(e.identity != null ? { identity: checkSpiffeId(e.identity, `clusters[${ci}].endpoints[${ei}].identity`, problems) } : {}),
      ...(e.destination ? { destination: e.destination as Partial<DestinationMetadata> } : {}),
    })),
    ...(c.destination ? { destination: c.destination as Partial<DestinationMetadata> } : {}),
    circuitBreaker: parseCircuitBreaker(c.circuitBreaker),
    outlierDetection: parseOutlierDetection(c.outlierDetection, `clusters[${ci}].outlierDetection`, problems),
    ...(c.meshTls != null ? { meshTls: parseMeshTls(c.meshTls, `clusters[${ci}].meshTls`, problems) } : {}),
    ...(c.upstreamTls != null ? { upstreamTls: parseUpstreamTls(c.upstreamTls, `clusters[${ci}].upstreamTls`, problems) } : {}),
  }));

  if (problems.length > 0) return err(problems);
  return ok({
    version: input.version ?? '0',
    mode,
    node: input.node ?? 'skein-proxy',
    admin: { address: input.admin?.address ?? '127.0.0.1', port: input.admin?.port ?? DEFAULT_ADMIN_PORT },
    listeners,
    clusters,
    limits: { ...DEFAULT_LIMITS[mode], ...(input.limits ?? {}) },
    drainTimeoutMs: input.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    telemetry: parseTelemetry(input.telemetry),
  });
}

function parseTelemetry(t: In<TelemetryConfig> | undefined): TelemetryConfig {
  const d = DEFAULT_TELEMETRY;
  return {
    workload: { ...d.workload, ...(t?.workload ?? {}) },
    tracing: { ...d.tracing, ...(t?.tracing ?? {}) },
    accessLog: { ...d.accessLog, ...(t?.accessLog ?? {}) },
  };
}

/** The listener's mesh-identity fields, present only when configured (so configs without them keep their exact shape). */
function meshListenerFields(l: In<ListenerConfig>, at: string, direction: string, problems: ConfigProblem[]): Pick<ListenerConfig, 'mtls' | 'authorization'> {
  const out: { mtls?: ListenerConfig['mtls']; authorization?: ListenerConfig['authorization'] } = {};
  if (l.mtls != null) {
    if (l.tls != null) problems.push({ path: `${at}.mtls`, message: 'a listener terminates either its own TLS (tls) or mesh mTLS (mtls), not both' });
    out.mtls = parseInboundMtls(l.mtls, `${at}.mtls`, direction, problems);
  }
  if (l.authorization != null) out.authorization = parseAuthorization(l.authorization, `${at}.authorization`, direction, problems);
  return out;
}

/** A certificate's source: its two files, or the name of its `secret` resource; exactly one of the two forms. */
function certificateSource(c: In<TlsCertificateConfig>, at: string, problems: ConfigProblem[]): TlsCertificateConfig {
  if (c.secret != null) {
    if (c.certFile != null || c.keyFile != null) problems.push({ path: at, message: 'give either certFile and keyFile, or secret, not both' });
    return { secret: c.secret };
  }
  if (c.certFile == null || c.keyFile == null) problems.push({ path: at, message: 'needs certFile and keyFile (or secret)' });
  return { certFile: c.certFile ?? '', keyFile: c.keyFile ?? '' };
}

function parseClientValidation(v: In<ClientValidationConfig>, at: string, problems: ConfigProblem[]): ClientValidationConfig {
  const caFiles = v.caFiles ?? [];
  const caSecrets = v.caSecrets ?? [];
  if (caFiles.length + caSecrets.length === 0) problems.push({ path: at, message: 'needs at least one CA: caFiles or caSecrets' });
  return { ...(caFiles.length > 0 ? { caFiles: [...caFiles] } : {}), ...(caSecrets.length > 0 ? { caSecrets: [...caSecrets] } : {}), mode: v.mode ?? 'require' };
}

function parseUpstreamTls(u: In<UpstreamTlsConfig>, at: string, problems: ConfigProblem[]): UpstreamTlsConfig {
  const caFiles = u.caFiles ?? [];
  const caSecrets = u.caSecrets ?? [];
  if (caFiles.length + caSecrets.length === 0 && u.systemCas !== true) problems.push({ path: at, message: 'needs trust anchors: caFiles, caSecrets or systemCas: true' });
  const sans = (u.subjectAltNames ?? []).map((x) => ({ type: x.type!, value: x.type === 'dns' ? x.value!.toLowerCase() : x.value! }));
  return {
    sni: u.sni!.toLowerCase(),
    ...(caFiles.length > 0 ? { caFiles: [...caFiles] } : {}),
    ...(caSecrets.length > 0 ? { caSecrets: [...caSecrets] } : {}),
    ...(u.systemCas === true ? { systemCas: true } : {}),
    ...(sans.length > 0 ? { subjectAltNames: sans } : {}),
    ...(u.clientCertificate != null ? { clientCertificate: certificateSource(u.clientCertificate, `${at}.clientCertificate`, problems) } : {}),
    ...(u.alpn != null ? { alpn: [...u.alpn] } : {}),
  };
}

/** Formats problems for a person: one line each, `path: message`. */
export function formatConfigProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
}
