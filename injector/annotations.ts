// The pod annotations that tune injection, parsed strictly: any invalid value makes the whole pod invalid (never half-applied).
import { INJECT_LABEL } from '../api/mesh/mesh-constants.ts';
import { err, ok, type Result } from '../api/result.ts';
import type { InjectionProblem } from './injection-problem.ts';
import { LOG_LEVELS, type LogLevel, type MeshSettings, type SidecarResources } from './mesh-settings.ts';
import { parseCidrList, parsePortList, type Cidr, type PortSpec } from './port-list.ts';
import { parseQuantity } from './quantity.ts';

export const ANNOTATIONS = {
  inject: INJECT_LABEL,
  proxyCpu: 'skein.dev/proxy-cpu',
  proxyMemory: 'skein.dev/proxy-memory',
  proxyCpuLimit: 'skein.dev/proxy-cpu-limit',
  proxyMemoryLimit: 'skein.dev/proxy-memory-limit',
  excludeInboundPorts: 'skein.dev/exclude-inbound-ports',
  excludeOutboundPorts: 'skein.dev/exclude-outbound-ports',
  excludeOutboundCidrs: 'skein.dev/exclude-outbound-cidrs',
  logLevel: 'skein.dev/log-level',
  accessLog: 'skein.dev/access-log',
  nativeSidecar: 'skein.dev/native-sidecar',
} as const;

/** What the pod's annotations resolve to, mesh defaults filled in. */
export interface PodInjectionOptions {
  readonly resources: SidecarResources;
  readonly excludeInboundPorts: readonly PortSpec[];
  readonly excludeOutboundPorts: readonly PortSpec[];
  readonly excludeOutboundCidrs: readonly Cidr[];
  readonly logLevel: LogLevel;
  readonly accessLog: boolean;
  readonly nativeSidecar: boolean;
}

export type InjectMark = 'enabled' | 'disabled' | 'absent';

/** Reads skein.dev/inject from a label or an annotation; an unknown value is a problem, not a silent default. */
export function readInjectMark(value: string | undefined, where: 'label' | 'annotation'): Result<InjectMark, InjectionProblem> {
  if (value === undefined) return ok('absent');
  if (value === 'enabled' || value === 'disabled') return ok(value);
  return err({ code: 'SKEIN_ERR_INJECT_INVALID_ANNOTATION', key: INJECT_LABEL, message: `${where} value "${value}" must be "enabled" or "disabled"` });
}

function parseBool(value: string): boolean | null {
  if (value === 'true' || value === 'enabled') return true;
  if (value === 'false' || value === 'disabled') return false;
  return null;
}

export function parseInjectionOptions(annotations: Readonly<Record<string, string>>, settings: MeshSettings): Result<PodInjectionOptions, InjectionProblem[]> {
  const problems: InjectionProblem[] = [];
  const bad = (key: string, message: string): void => {
    problems.push({ code: 'SKEIN_ERR_INJECT_INVALID_ANNOTATION', key, message });
  };
  const get = (key: string): string | undefined => {
    const v = annotations[key];
    return typeof v === 'string' ? v.trim() : undefined;
  };

  const quantity = (key: string, fallback: string, kind: 'cpu' | 'memory'): string => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (parseQuantity(v) === null) {
      bad(key, `"${v}" is not a valid ${kind} quantity (e.g. ${kind === 'cpu' ? '"100m" or "1"' : '"64Mi" or "1Gi"'})`);
      return fallback;
    }
    return v;
  };
  const resources: SidecarResources = {
    cpuRequest: quantity(ANNOTATIONS.proxyCpu, settings.resources.cpuRequest, 'cpu'),
    memoryRequest: quantity(ANNOTATIONS.proxyMemory, settings.resources.memoryRequest, 'memory'),
    cpuLimit: quantity(ANNOTATIONS.proxyCpuLimit, settings.resources.cpuLimit, 'cpu'),
    memoryLimit: quantity(ANNOTATIONS.proxyMemoryLimit, settings.resources.memoryLimit, 'memory'),
  };
  // The API server would reject request > limit anyway, with a message that does not name our annotations.
  const pairs = [
    ['cpu', resources.cpuRequest, resources.cpuLimit, ANNOTATIONS.proxyCpu],
    ['memory', resources.memoryRequest, resources.memoryLimit, ANNOTATIONS.proxyMemory],
  ] as const;
  for (const [what, req, lim, key] of pairs) {
    const r = parseQuantity(req);
    const l = lim === '' ? null : parseQuantity(lim);
    if (r !== null && l !== null && r > l) {
      problems.push({ code: 'SKEIN_ERR_INJECT_INVALID_RESOURCES', key, message: `proxy ${what} request ${req} exceeds its limit ${lim}` });
    }
  }

  const ports = (key: string): PortSpec[] => {
    const v = get(key);
    if (v === undefined) return [];
    const r = parsePortList(v);
    if (!r.ok) {
      bad(key, r.error);
      return [];
    }
    return r.value;
  };
  const excludeInboundPorts = ports(ANNOTATIONS.excludeInboundPorts);
  const excludeOutboundPorts = ports(ANNOTATIONS.excludeOutboundPorts);

  let excludeOutboundCidrs: Cidr[] = [];
  const cidrText = get(ANNOTATIONS.excludeOutboundCidrs);
  if (cidrText !== undefined) {
    const r = parseCidrList(cidrText);
    if (r.ok) excludeOutboundCidrs = r.value;
    else bad(ANNOTATIONS.excludeOutboundCidrs, r.error);
  }

  let logLevel = settings.logLevel;
  const lv = get(ANNOTATIONS.logLevel);
  if (lv !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(lv)) logLevel = lv as LogLevel;
    else bad(ANNOTATIONS.logLevel, `"${lv}" must be one of ${LOG_LEVELS.join(', ')}`);
  }

  const bool = (key: string, fallback: boolean): boolean => {
    const v = get(key);
    if (v === undefined) return fallback;
    const b = parseBool(v);
    if (b === null) {
      bad(key, `"${v}" must be "true" or "false"`);
      return fallback;
    }
    return b;
  };
  const accessLog = bool(ANNOTATIONS.accessLog, settings.accessLog);
  const nativeSidecar = bool(ANNOTATIONS.nativeSidecar, settings.nativeSidecars);

  if (problems.length > 0) return err(problems);
  return ok({ resources, excludeInboundPorts, excludeOutboundPorts, excludeOutboundCidrs, logLevel, accessLog, nativeSidecar });
}
