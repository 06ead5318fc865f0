// Turns one untrusted config resource body (from the control plane or a config file) into its typed, resolved form, or
// every problem with it at once. The file schema (parseProxyConfig) is the one source of truth: each body is checked by
// placing it where it sits in a config document, so a field added there is accepted here with the same rules.
import { err, ok, type Result } from '../result.ts';
import {
  CONFIG_RESOURCE_TYPES,
  SETTINGS_NAME,
  type ConfigResourceType,
  type OutboundVipConfig,
  type ParsedResource,
  type SecretResource,
} from './config-resources.ts';
import { parseProxyConfig, type ConfigProblem } from './parse-proxy-config.ts';
import { GRPC_STATUS_NAMES } from './policy-config-schema.ts';
import type { ProxyMode } from './proxy-config.ts';

/** What a body's defaults depend on: the proxy's mode (a listener's default direction). */
export interface ResourceContext {
  readonly mode: ProxyMode;
}

type Doc = Record<string, unknown>;

const MAX_VIPS = 100_000;
const MAX_PEM_BYTES = 256 * 1024;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:.]+$/;

function isObject(v: unknown): v is Doc {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The input form of a body: a member set to null reads as absent, and a fault abort's gRPC status may be its number.
 * So the resolved model (what translation builds from api/config types and sends) is itself a valid body.
 */
export function toInputForm(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(toInputForm);
  if (!isObject(body)) return body;
  const out: Doc = {};
  for (const [k, v] of Object.entries(body)) {
    if (v === null) continue;
    // defineProperty: a "__proto__" member of parsed JSON stays a member (and the schema names it), never a prototype.
    Object.defineProperty(out, k, { value: toInputForm(v), enumerable: true, writable: true, configurable: true });
  }
  // Only a fault has an `abort`: the resolved model holds its gRPC status as a number, the schema as a name.
  const abort = out.abort;
  if (isObject(abort) && typeof abort.grpcStatus === 'number' && Number.isInteger(abort.grpcStatus) && GRPC_STATUS_NAMES[abort.grpcStatus] !== undefined) {
    out.abort = { ...abort, grpcStatus: GRPC_STATUS_NAMES[abort.grpcStatus] };
  }
  return out;
}

/** Problems of a body placed at `prefix` in a wrapping document, with paths relative to the body. */
function relative(problems: readonly ConfigProblem[], prefix: string, into = ''): ConfigProblem[] {
  return problems.map((p) => {
    if (p.path === prefix) return { path: into || '(root)', message: p.message };
    if (p.path.startsWith(prefix)) {
      const rest = p.path.slice(prefix.length).replace(/^\./, '');
      return { path: into ? (rest.startsWith('[') ? `${into}${rest}` : `${into}.${rest}`) : rest, message: p.message };
    }
    return p;
  });
}

/** Cluster names a body refers to (so the wrapping document can hold stand-ins: references are checked by the store). */
function referencedClusters(v: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(v)) for (const x of v) referencedClusters(x, out);
  else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'cluster' || k === 'tcpCluster') && typeof x === 'string') out.add(x);
      else referencedClusters(x, out);
    }
  }
  return out;
}

/** The schema's name rule: a reference that breaks it is reported where it is written, not as a stand-in. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

function stubClusters(body: unknown): Doc[] {
  return [...referencedClusters(body, new Set())].filter((n) => NAME.test(n) && n.length <= 253).map((name) => ({ name }));
}

function unknownFields(body: Doc, allowed: readonly string[], problems: ConfigProblem[], hint = ''): void {
  for (const k of Object.keys(body)) if (!allowed.includes(k)) problems.push({ path: k, message: `unknown field${hint}` });
}

function checkName(body: Doc, field: string, name: string, problems: ConfigProblem[]): void {
  if (body[field] !== undefined && body[field] !== name) problems.push({ path: field, message: `must equal the resource name "${name}"` });
}

/** Validates `body` as a resource of `type` named `name`. */
export function parseConfigResource(type: string, name: string, body: unknown, ctx: ResourceContext): Result<ParsedResource, readonly ConfigProblem[]> {
  const input = toInputForm(body);
  if (!isObject(input)) return err([{ path: '(root)', message: 'must be an object' }]);
  const problems: ConfigProblem[] = [];
  switch (type as ConfigResourceType) {
    case 'settings': {
      if (name !== SETTINGS_NAME) return err([{ path: '(root)', message: `the settings resource is named "${SETTINGS_NAME}"` }]);
      unknownFields(input, ['mode', 'node', 'admin', 'limits', 'drainTimeoutMs', 'telemetry'], problems);
      const parsed = parseProxyConfig({ ...input, listeners: [] });
      if (!parsed.ok || problems.length > 0) return err([...problems, ...(parsed.ok ? [] : parsed.error)]);
      const { mode, node, admin, limits, drainTimeoutMs, telemetry } = parsed.value;
      return ok({ type: 'settings', value: { mode, node, admin, limits, drainTimeoutMs, telemetry } });
    }
    case 'listener': {
      const { routeTable, ...rest } = input;
      if (routeTable !== undefined && (typeof routeTable !== 'string' || routeTable === '')) problems.push({ path: 'routeTable', message: 'must be a non-empty string' });
      if ('virtualHosts' in rest) problems.push({ path: 'virtualHosts', message: 'unknown field (a listener names its routes with routeTable)' });
      checkName(rest, 'name', name, problems);
      const parsed = parseProxyConfig({ mode: ctx.mode, listeners: [{ name, ...rest }], clusters: stubClusters(rest) });
      if (!parsed.ok || problems.length > 0) return err([...problems, ...(parsed.ok ? [] : relative(parsed.error, 'listeners[0]'))]);
      const { virtualHosts: _none, ...listener } = parsed.value.listeners[0]!;
      return ok({ type: 'listener', value: { ...listener, routeTable: typeof routeTable === 'string' ? routeTable : null } });
    }
    case 'route-table': {
      unknownFields(input, ['name', 'virtualHosts'], problems);
      checkName(input, 'name', name, problems);
      if (!Array.isArray(input.virtualHosts)) problems.push({ path: 'virtualHosts', message: 'is required (an array)' });
      if (problems.length > 0) return err(problems);
      const doc = { mode: ctx.mode, listeners: [{ name: 'route-table', port: 0, virtualHosts: input.virtualHosts }], clusters: stubClusters(input.virtualHosts) };
      const parsed = parseProxyConfig(doc);
      if (!parsed.ok) return err(relative(parsed.error, 'listeners[0].virtualHosts', 'virtualHosts'));
      return ok({ type: 'route-table', value: { name, virtualHosts: parsed.value.listeners[0]!.virtualHosts } });
    }
    case 'virtual-host': {
      const { routeTable, ...vh } = input;
      if (typeof routeTable !== 'string' || routeTable === '') problems.push({ path: 'routeTable', message: 'is required (a route table name)' });
      checkName(vh, 'name', name, problems);
      if (problems.length > 0) return err(problems);
      const doc = { mode: ctx.mode, listeners: [{ name: 'virtual-host', port: 0, virtualHosts: [{ ...vh, name }] }], clusters: stubClusters(vh) };
      const parsed = parseProxyConfig(doc);
      if (!parsed.ok) return err(relative(parsed.error, 'listeners[0].virtualHosts[0]'));
      return ok({ type: 'virtual-host', value: { routeTable: routeTable as string, virtualHost: parsed.value.listeners[0]!.virtualHosts[0]! } });
    }
    case 'cluster': {
      checkName(input, 'name', name, problems);
      const parsed = parseProxyConfig({ mode: ctx.mode, listeners: [], clusters: [{ ...input, name }] });
      if (!parsed.ok || problems.length > 0) return err([...problems, ...(parsed.ok ? [] : relative(parsed.error, 'clusters[0]'))]);
      return ok({ type: 'cluster', value: parsed.value.clusters[0]! });
    }
    case 'endpoint-set': {
      unknownFields(input, ['cluster', 'endpoints'], problems);
      checkName(input, 'cluster', name, problems);
      if (!Array.isArray(input.endpoints)) problems.push({ path: 'endpoints', message: 'is required (an array)' });
      if (problems.length > 0) return err(problems);
      const parsed = parseProxyConfig({ listeners: [], clusters: [{ name, endpoints: input.endpoints }] });
      if (!parsed.ok) return err(relative(parsed.error, 'clusters[0].endpoints', 'endpoints'));
      return ok({ type: 'endpoint-set', value: { cluster: name, endpoints: parsed.value.clusters[0]!.endpoints } });
    }
    case 'outbound-vips':
      return parseOutboundVips(input);
    case 'secret':
      return parseSecret(input);
    default:
      return err([{ path: '(root)', message: `unknown resource type "${type}" (known: ${CONFIG_RESOURCE_TYPES.join(', ')})` }]);
  }
}

function parseOutboundVips(input: Doc): Result<ParsedResource, readonly ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  unknownFields(input, ['routeTable', 'vips'], problems);
  if (typeof input.routeTable !== 'string' || input.routeTable === '') problems.push({ path: 'routeTable', message: 'is required (a route table name)' });
  const vips: OutboundVipConfig[] = [];
  if (!Array.isArray(input.vips)) problems.push({ path: 'vips', message: 'is required (an array)' });
  else if (input.vips.length > MAX_VIPS) problems.push({ path: 'vips', message: `at most ${MAX_VIPS} entries` });
  else {
    input.vips.forEach((v: unknown, i) => {
      const at = `vips[${i}]`;
      if (!isObject(v)) return void problems.push({ path: at, message: 'must be an object' });
      unknownFields(v, ['address', 'port', 'virtualHost'], problems);
      const address = v.address;
      const ip = typeof address === 'string' && (IPV4.test(address) || (address.includes(':') && IPV6.test(address)));
      if (!ip) problems.push({ path: `${at}.address`, message: 'must be an IPv4 or IPv6 address' });
      if (!Number.isInteger(v.port) || (v.port as number) < 1 || (v.port as number) > 65535) problems.push({ path: `${at}.port`, message: 'must be an integer from 1 to 65535' });
      if (typeof v.virtualHost !== 'string' || v.virtualHost === '') problems.push({ path: `${at}.virtualHost`, message: 'is required (a virtual host name)' });
      if (problems.length === 0) vips.push({ address: (address as string).toLowerCase(), port: v.port as number, virtualHost: v.virtualHost as string });
    });
  }
  if (problems.length > 0) return err(problems);
  return ok({ type: 'outbound-vips', value: { routeTable: input.routeTable as string, vips } });
}

function parseSecret(input: Doc): Result<ParsedResource, readonly ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const fields = ['certificateChain', 'privateKey', 'trustBundle'] as const;
  unknownFields(input, fields, problems);
  const value: { -readonly [K in keyof SecretResource]: string | null } = { certificateChain: null, privateKey: null, trustBundle: null };
  for (const f of fields) {
    const v = input[f];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !v.includes('-----BEGIN ') || v.length > MAX_PEM_BYTES) problems.push({ path: f, message: `must be PEM text (at most ${MAX_PEM_BYTES} bytes)` });
    else value[f] = v;
  }
  if (problems.length === 0 && fields.every((f) => value[f] === null)) problems.push({ path: '(root)', message: `needs at least one of ${fields.join(', ')}` });
  if (problems.length > 0) return err(problems);
  return ok({ type: 'secret', value });
}
