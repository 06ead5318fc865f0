// Names, ports and identifiers shared by the injector, the proxy, the control plane and the local cluster.
import { DEFAULT_ADMIN_PORT, DEFAULT_INBOUND_PORT, DEFAULT_OUTBOUND_PORT } from '../config/proxy-config-defaults.ts';

/** The one container image of Skein; the local cluster builds it from this checkout (local-cluster/images/). */
export const SKEIN_IMAGE = 'skein.dev/skein:0.1.0';
/** Example apps are `skein.dev/example-<name>:<tag>`, images the local cluster builds from `examples/<name>/`. */
export const EXAMPLE_IMAGE_PREFIX = 'skein.dev/example-';

/** The sidecar proxy runs as this UID; the interception rules let its own traffic through untouched. */
export const PROXY_UID = 2102;
export const PROXY_ADMIN_PORT = DEFAULT_ADMIN_PORT; // 15000: /ready /live /metrics /config_dump (loopback)
export const PROXY_OUTBOUND_PORT = DEFAULT_OUTBOUND_PORT; // 15001: app -> proxy (iptables REDIRECT of outbound TCP)
export const PROXY_INBOUND_PORT = DEFAULT_INBOUND_PORT; // 15006: peer -> proxy (iptables REDIRECT of inbound TCP)
/** Serves kubelet's rewritten probes: /app-health/<container>/{livez,readyz,startupz}, plus /ready for the proxy itself. */
export const PROXY_HEALTH_PORT = 15020;

export const MESH_NAMESPACE = 'skein-system';
export const INJECT_LABEL = 'skein.dev/inject';
export const SIDECAR_CONTAINER_NAME = 'skein-proxy';
export const INIT_CONTAINER_NAME = 'skein-init';
/** Audience of the projected ServiceAccount token the proxy presents to the control plane for its identity. */
export const MESH_TOKEN_AUDIENCE = 'skein.dev/identity';
export const MESH_TOKEN_PATH = '/var/run/secrets/skein.dev/token';
/** The mesh trust bundle (PEM) the sidecar trusts for its first Certify call; later calls trust the bundle Certify returned. */
export const MESH_CA_ROOT_PATH = '/var/run/secrets/skein.dev/ca/ca.crt';

/** Environment the injector gives the sidecar; the proxy's `--sidecar` bootstrap reads it. */
export const SIDECAR_ENV = {
  podName: 'SKEIN_POD_NAME',
  podNamespace: 'SKEIN_POD_NAMESPACE',
  podIp: 'SKEIN_POD_IP',
  serviceAccount: 'SKEIN_SERVICE_ACCOUNT',
  /** Comma-separated TCP ports the app listens on (from containerPorts); inbound traffic to them goes to 127.0.0.1:<port>. */
  inboundPorts: 'SKEIN_INBOUND_PORTS',
  /** JSON object: probe path on PROXY_HEALTH_PORT -> the app's original httpGet/tcpSocket probe. */
  appProbes: 'SKEIN_APP_PROBES',
  controlPlaneAddress: 'SKEIN_CONTROL_PLANE_ADDRESS',
  /** Mesh identity: the trust domain (default cluster.local) and where the CA root file is (default MESH_CA_ROOT_PATH). */
  trustDomain: 'SKEIN_TRUST_DOMAIN',
  caRootPath: 'SKEIN_CA_ROOT_PATH',
  logLevel: 'SKEIN_LOG_LEVEL',
  accessLog: 'SKEIN_ACCESS_LOG',
  /** Comma-separated names of the app containers (regular-container mode), so the proxy knows whom it serves. */
  appContainers: 'SKEIN_APP_CONTAINERS',
  /** "true" when the pod runs to completion (a Job) in regular-container mode: the proxy exits once the app's processes are gone. */
  exitOnAppExit: 'SKEIN_EXIT_ON_APP_EXIT',
  /** PEM roots of the mesh (the control plane's published trust bundle): set, the proxy obtains a workload certificate. */
  trustAnchors: 'SKEIN_TRUST_ANCHORS',
  /** OTLP/HTTP traces URL of the mesh's collector (`skein injector --trace-collector`); unset: no span is exported. */
  traceCollector: 'SKEIN_TRACE_COLLECTOR',
  /** Share (0-100) of new traces sampled (`skein injector --trace-sampling-percent`); unset: the proxy default (1). */
  traceSamplingPercent: 'SKEIN_TRACE_SAMPLING_PERCENT',
} as const;

/** Label the injector puts on every pod it injected (value "true"). */
export const INJECTED_LABEL = 'skein.dev/injected';
/** Annotation recording what the injector added (JSON); its presence also marks the pod as already injected. */
export const INJECTION_STATUS_ANNOTATION = 'skein.dev/status';
/** The proxy's own readiness on PROXY_HEALTH_PORT (and on the admin port). */
export const PROXY_READY_PATH = '/ready';
/** The proxy's metrics (Prometheus text) on PROXY_HEALTH_PORT, for scrapers outside the pod; the injector's prometheus.io/path. */
export const PROXY_PROMETHEUS_PATH = '/stats/prometheus';
/** Prefix of the rewritten kubelet probe paths on PROXY_HEALTH_PORT: /app-health/<container>/{readyz,livez,startupz}. */
export const APP_HEALTH_PATH_PREFIX = '/app-health/';
/** Admin endpoint (POST, loopback) that makes the proxy drain and exit: lets a Job's app end its sidecar explicitly. */
export const PROXY_QUIT_PATH = '/quitquitquit';

/**
 * The ConfigMap (in MESH_NAMESPACE) where the control plane publishes the mesh trust bundle (`ca.crt`: every root, PEM).
 * Public material only: the injector copies it into each sidecar's environment so the proxy can verify the control
 * plane's identity service before it holds a certificate of its own.
 */
export const TRUST_BUNDLE_CONFIGMAP = 'skein-trust-bundle';
export const TRUST_BUNDLE_KEY = 'ca.crt';

/**
 * Pod annotation the injector sets ('enabled') when it gave the sidecar the mesh trust anchors: the pod's proxy obtains a
 * workload certificate and accepts mTLS, so the control plane tells callers to reach it over mTLS with its identity.
 */
export const MESH_IDENTITY_ANNOTATION = 'skein.dev/mesh-identity';
