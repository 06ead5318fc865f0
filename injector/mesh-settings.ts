// Mesh-wide settings the mutation depends on (besides the pod itself): chosen by the injector's flags, not by pods.
import { MESH_NAMESPACE, SKEIN_IMAGE } from '../api/mesh/mesh-constants.ts';

export interface SidecarResources {
  readonly cpuRequest: string;
  readonly memoryRequest: string;
  /** Empty string: no limit. */
  readonly cpuLimit: string;
  readonly memoryLimit: string;
}

export interface MeshSettings {
  readonly image: string;
  /** true: the proxy is a native sidecar (init container with restartPolicy Always, k8s >= 1.29); false: a regular container held first. */
  readonly nativeSidecars: boolean;
  readonly controlPlaneAddress: string;
  readonly logLevel: LogLevel;
  readonly accessLog: boolean;
  readonly resources: SidecarResources;
  /** Pods in these namespaces are never injected. */
  readonly excludedNamespaces: readonly string[];
  /** Lifetime of the projected ServiceAccount token the proxy presents for its identity. */
  readonly tokenExpirationSeconds: number;
  /**
   * The mesh trust bundle (PEM roots) the control plane publishes; '' while there is none (no identity service yet): the
   * sidecar then runs without a workload certificate, in plaintext.
   */
  readonly trustAnchorsPem: string;
  /** Where every sidecar exports its spans (OTLP/HTTP traces URL); '' for none (trace headers still pass through). */
  readonly traceCollector: string;
  /** Mesh default share (0-100) of new traces sampled; null: the proxy's own default (1 %). */
  readonly traceSamplingPercent: number | null;
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_CONTROL_PLANE_ADDRESS = `skein-control-plane.${MESH_NAMESPACE}.svc:15010`;

export const DEFAULT_SIDECAR_RESOURCES: SidecarResources = {
  cpuRequest: '50m',
  memoryRequest: '64Mi',
  cpuLimit: '1',
  memoryLimit: '256Mi',
};

export const DEFAULT_MESH_SETTINGS: MeshSettings = {
  image: SKEIN_IMAGE,
  nativeSidecars: true,
  controlPlaneAddress: DEFAULT_CONTROL_PLANE_ADDRESS,
  logLevel: 'info',
  accessLog: false,
  resources: DEFAULT_SIDECAR_RESOURCES,
  excludedNamespaces: ['kube-system', MESH_NAMESPACE],
  tokenExpirationSeconds: 3600,
  trustAnchorsPem: '',
  traceCollector: '',
  traceSamplingPercent: null,
};

/**
 * The tracing flags of `skein injector` / `skein inject`, checked at the edge: a URL a sidecar could not use, or a share
 * outside 0-100, is refused at start with the flag named, rather than reaching every pod's environment.
 */
export function parseTraceSettings(collector: string | undefined, samplingPercent: string | undefined): { ok: true; value: Pick<MeshSettings, 'traceCollector' | 'traceSamplingPercent'> } | { ok: false; error: string } {
  let traceCollector = '';
  if (collector !== undefined && collector !== '') {
    let url: URL | null = null;
    try {
      url = new URL(collector);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') {
      return { ok: false, error: `--trace-collector must be an http:// or https:// URL without credentials (the collector's OTLP/HTTP traces endpoint, e.g. http://jaeger-collector.observability:4318/v1/traces), not "${collector}"` };
    }
    traceCollector = url.href;
  }
  let traceSamplingPercent: number | null = null;
  if (samplingPercent !== undefined) {
    const n = /^[0-9]{1,3}(\.[0-9]+)?$/.test(samplingPercent) ? Number(samplingPercent) : NaN;
    if (!(n >= 0 && n <= 100)) return { ok: false, error: `--trace-sampling-percent must be a number from 0 to 100, not "${samplingPercent}"` };
    traceSamplingPercent = n;
  }
  return { ok: true, value: { traceCollector, traceSamplingPercent } };
}

export function meshSettings(overrides: Partial<MeshSettings> = {}): MeshSettings {
  return { ...DEFAULT_MESH_SETTINGS, ...overrides };
}
