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
};

export function meshSettings(overrides: Partial<MeshSettings> = {}): MeshSettings {
  return { ...DEFAULT_MESH_SETTINGS, ...overrides };
}
