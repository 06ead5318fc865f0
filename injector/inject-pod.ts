// The mutation: (pod, namespace, mesh settings) -> skip, invalid, or a JSON Patch plus the injected pod. Pure; shared by the
// webhook and `skein inject`.
import { posix } from 'node:path';
import {
  INIT_CONTAINER_NAME, INJECT_LABEL, INJECTED_LABEL, INJECTION_STATUS_ANNOTATION, MESH_IDENTITY_ANNOTATION, MESH_TOKEN_AUDIENCE, MESH_TOKEN_PATH,
  PROXY_HEALTH_PORT, PROXY_PROMETHEUS_PATH, PROXY_READY_PATH, PROXY_UID, SIDECAR_CONTAINER_NAME, SIDECAR_ENV,
} from '../api/mesh/mesh-constants.ts';
import { parseInjectionOptions, readInjectMark, type PodInjectionOptions } from './annotations.ts';
import type { InjectionProblem } from './injection-problem.ts';
import { defaultInterceptionRules, interceptionRulesToArgs, type InterceptionRules } from './iptables-script.ts';
import { applyJsonPatch, escapePointerToken, type JsonPatchOp } from './json-patch.ts';
import type { MeshSettings } from './mesh-settings.ts';
import { isPlainObject, type Container, type Pod } from './pod-types.ts';
import { rewriteProbes } from './probes.ts';

export const TOKEN_VOLUME_NAME = 'skein-token';
export const INJECTION_STATUS_VERSION = 1;

export interface NamespaceInfo {
  readonly name: string;
  /** The namespace's labels when known (`skein inject --namespace-labels`); the webhook does not know them and trusts its
   *  namespaceSelector, which only lets the API server call it for namespaces that opted in (or pods that did). */
  readonly labels?: Readonly<Record<string, string>>;
}

export type SkipReason =
  | 'malformed-pod'
  | 'host-network'
  | 'excluded-namespace'
  | 'already-injected'
  | 'opted-out'
  | 'not-enabled';

export interface InjectionStatus {
  readonly version: number;
  readonly mode: 'native-sidecar' | 'regular-container';
  readonly initContainers: readonly string[];
  readonly containers: readonly string[];
  readonly volumes: readonly string[];
  readonly rewrittenProbes: readonly string[];
  readonly exitOnAppExit: boolean;
}

export type InjectionOutcome =
  | {
      readonly kind: 'injected';
      readonly patch: readonly JsonPatchOp[];
      readonly pod: Pod;
      readonly status: InjectionStatus;
      /** What skein-init installs (generateIptablesScript(rules) is the script). */
      readonly rules: InterceptionRules;
      readonly warnings: readonly string[];
    }
  /** `warn`: the pod looks like it wanted injection (or is odd), so the user should hear why it did not happen. */
  | { readonly kind: 'skipped'; readonly reason: SkipReason; readonly message: string; readonly warn: boolean }
  | { readonly kind: 'invalid'; readonly problems: readonly InjectionProblem[] };

function skipped(reason: SkipReason, message: string, warn = false): InjectionOutcome {
  return { kind: 'skipped', reason, message, warn };
}

function stringMap(v: unknown): v is Record<string, string> {
  return isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

function isNamedContainer(c: unknown): c is Container {
  return isPlainObject(c) && typeof c.name === 'string' && c.name.length > 0;
}

/** Shape checks on untrusted input: anything odd is skipped (the API server's own validation will speak about it). */
function shapeProblem(pod: unknown): string | null {
  if (!isPlainObject(pod)) return 'the object is not a pod';
  const meta = pod.metadata;
  if (meta !== undefined && !isPlainObject(meta)) return 'metadata is not an object';
  if (isPlainObject(meta)) {
    if (meta.labels !== undefined && meta.labels !== null && !stringMap(meta.labels)) return 'metadata.labels is not a map of strings';
    if (meta.annotations !== undefined && meta.annotations !== null && !stringMap(meta.annotations)) return 'metadata.annotations is not a map of strings';
  }
  const spec = pod.spec;
  if (!isPlainObject(spec)) return 'spec is missing';
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) return 'spec.containers is missing or empty';
  if (!spec.containers.every(isNamedContainer)) return 'a container has no name';
  if (spec.initContainers !== undefined && spec.initContainers !== null) {
    if (!Array.isArray(spec.initContainers) || !spec.initContainers.every(isNamedContainer)) return 'spec.initContainers is not a list of named containers';
  }
  if (spec.volumes !== undefined && spec.volumes !== null && !Array.isArray(spec.volumes)) return 'spec.volumes is not a list';
  return null;
}

function buildInitContainer(settings: MeshSettings, rules: InterceptionRules): Container {
  return {
    name: INIT_CONTAINER_NAME,
    image: settings.image,
    imagePullPolicy: 'IfNotPresent',
    args: ['init-iptables', ...interceptionRulesToArgs(rules)],
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    securityContext: {
      // iptables needs root with NET_ADMIN/NET_RAW in the pod's network namespace; nothing else.
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

interface SidecarInputs {
  readonly settings: MeshSettings;
  readonly options: PodInjectionOptions;
  readonly appContainers: readonly Container[];
  readonly inboundPorts: readonly number[];
  readonly appProbes: Record<string, unknown>;
  readonly exitOnAppExit: boolean;
}

function buildSidecar(x: SidecarInputs): Container {
  const { settings, options } = x;
  const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  const env: unknown[] = [
    fieldEnv(SIDECAR_ENV.podName, 'metadata.name'),
    fieldEnv(SIDECAR_ENV.podNamespace, 'metadata.namespace'),
    fieldEnv(SIDECAR_ENV.podIp, 'status.podIP'),
    fieldEnv(SIDECAR_ENV.serviceAccount, 'spec.serviceAccountName'),
    { name: SIDECAR_ENV.inboundPorts, value: x.inboundPorts.join(',') },
    { name: SIDECAR_ENV.appProbes, value: JSON.stringify(x.appProbes) },
    { name: SIDECAR_ENV.controlPlaneAddress, value: settings.controlPlaneAddress },
    { name: SIDECAR_ENV.logLevel, value: options.logLevel },
    { name: SIDECAR_ENV.accessLog, value: String(options.accessLog) },
    { name: SIDECAR_ENV.appContainers, value: x.appContainers.map((c) => c.name).join(',') },
  ];
  if (x.exitOnAppExit) env.push({ name: SIDECAR_ENV.exitOnAppExit, value: 'true' });
  if (settings.trustAnchorsPem !== '') env.push({ name: SIDECAR_ENV.trustAnchors, value: settings.trustAnchorsPem });
  // Only when set mesh-wide, so a mesh without tracing injects exactly what it did before.
  if (settings.traceCollector !== '') env.push({ name: SIDECAR_ENV.traceCollector, value: settings.traceCollector });
  if (settings.traceSamplingPercent !== null) env.push({ name: SIDECAR_ENV.traceSamplingPercent, value: String(settings.traceSamplingPercent) });
  const r = options.resources;
  const limits: Record<string, string> = {};
  if (r.cpuLimit !== '') limits.cpu = r.cpuLimit;
  if (r.memoryLimit !== '') limits.memory = r.memoryLimit;
  const ready = { httpGet: { path: PROXY_READY_PATH, port: PROXY_HEALTH_PORT, scheme: 'HTTP' } };
  const sidecar: Container = {
    name: SIDECAR_CONTAINER_NAME,
    image: settings.image,
    imagePullPolicy: 'IfNotPresent',
    args: ['proxy', '--sidecar'],
    ports: [{ name: 'skein-health', containerPort: PROXY_HEALTH_PORT, protocol: 'TCP' }],
    env,
    resources: { requests: { cpu: r.cpuRequest, memory: r.memoryRequest }, ...(Object.keys(limits).length > 0 ? { limits } : {}) },
    securityContext: {
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_UID,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    readinessProbe: { ...ready, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3 },
    volumeMounts: [{ name: TOKEN_VOLUME_NAME, mountPath: posix.dirname(MESH_TOKEN_PATH), readOnly: true }],
  };
  if (options.nativeSidecar) {
    // Kubelet starts the next init container (and then the app) only once this startup probe passes: the app never
    // starts before the proxy is ready.
    sidecar.restartPolicy = 'Always';
    sidecar.startupProbe = { ...ready, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 600 };
  } else {
    // Kubelet starts containers in order and waits for each postStart hook: holding it until the proxy is ready holds the app.
    sidecar.lifecycle = {
      postStart: { exec: { command: ['skein', 'wait-ready', '--url', `http://127.0.0.1:${PROXY_HEALTH_PORT}${PROXY_READY_PATH}`, '--timeout-seconds', '120'] } },
    };
  }
  return sidecar;
}

function tokenVolume(settings: MeshSettings): unknown {
  return {
    name: TOKEN_VOLUME_NAME,
    projected: {
      sources: [{ serviceAccountToken: { audience: MESH_TOKEN_AUDIENCE, expirationSeconds: settings.tokenExpirationSeconds, path: posix.basename(MESH_TOKEN_PATH) } }],
    },
  };
}

/**
 * The usual Prometheus discovery annotations, pointing at the proxy's metrics on the health port (the admin port is
 * loopback-only). A pod that already carries any prometheus.io/* annotation keeps its own, untouched: the app's metrics
 * win, and the proxy's stay reachable at :15020/stats/prometheus for a scrape config that asks for them.
 */
function scrapeAnnotations(existing: Readonly<Record<string, string>>): Record<string, string> {
  if (Object.keys(existing).some((k) => k.startsWith('prometheus.io/'))) return {};
  return { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(PROXY_HEALTH_PORT), 'prometheus.io/path': PROXY_PROMETHEUS_PATH };
}

function mapPatch(parent: string, existing: Record<string, string> | undefined | null, add: Record<string, string>): JsonPatchOp[] {
  if (!existing) return [{ op: 'add', path: parent, value: add }];
  return Object.entries(add).map(([k, v]) => ({ op: 'add', path: `${parent}/${escapePointerToken(k)}`, value: v }));
}

export function injectPod(input: unknown, namespace: NamespaceInfo, settings: MeshSettings): InjectionOutcome {
  const shape = shapeProblem(input);
  if (shape !== null) return skipped('malformed-pod', `not injected: ${shape}`, true);
  const pod = input as Pod;
  const spec = pod.spec!;
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};

  const labelMark = readInjectMark(labels[INJECT_LABEL], 'label');
  const annotationMark = readInjectMark(annotations[INJECT_LABEL], 'annotation');
  const wantsIt = (labelMark.ok && labelMark.value === 'enabled') || (annotationMark.ok && annotationMark.value === 'enabled');

  if (spec.hostNetwork === true) return skipped('host-network', 'not injected: hostNetwork pods share the node\'s network; interception would capture the node\'s traffic', wantsIt);
  if (settings.excludedNamespaces.includes(namespace.name)) return skipped('excluded-namespace', `not injected: namespace ${namespace.name} is never injected`, wantsIt);
  const all = [...(spec.initContainers ?? []), ...spec.containers];
  if (all.some((c) => c.name === SIDECAR_CONTAINER_NAME || c.name === INIT_CONTAINER_NAME) || annotations[INJECTION_STATUS_ANNOTATION] !== undefined) {
    return skipped('already-injected', 'not injected: the pod already carries the Skein sidecar');
  }
  if (!labelMark.ok || !annotationMark.ok) {
    return { kind: 'invalid', problems: [labelMark, annotationMark].flatMap((m) => (m.ok ? [] : [m.error])) };
  }
  if (labelMark.value === 'disabled' || annotationMark.value === 'disabled') return skipped('opted-out', `not injected: the pod sets ${INJECT_LABEL}: disabled`);
  if (!wantsIt && namespace.labels !== undefined && namespace.labels[INJECT_LABEL] !== 'enabled') {
    return skipped('not-enabled', `not injected: neither the pod nor namespace ${namespace.name} sets ${INJECT_LABEL}: enabled`);
  }
  if ((spec.volumes ?? []).some((v) => isPlainObject(v) && v.name === TOKEN_VOLUME_NAME)) {
    return skipped('malformed-pod', `not injected: the pod already has a volume named ${TOKEN_VOLUME_NAME}`, true);
  }

  const parsed = parseInjectionOptions(annotations, settings);
  if (!parsed.ok) return { kind: 'invalid', problems: parsed.error };
  const options = parsed.value;

  const rules = defaultInterceptionRules({
    excludeInboundPorts: options.excludeInboundPorts,
    excludeOutboundPorts: options.excludeOutboundPorts,
    excludeOutboundCidrs: options.excludeOutboundCidrs,
  });
  const excludedInbound = (port: number) => options.excludeInboundPorts.some((p) => port >= p.from && port <= p.to);
  const inboundPorts: number[] = [];
  for (const c of spec.containers) {
    for (const p of Array.isArray(c.ports) ? c.ports : []) {
      if (!isPlainObject(p) || typeof p.containerPort !== 'number') continue;
      if (p.protocol !== undefined && p.protocol !== 'TCP') continue;
      if (!excludedInbound(p.containerPort) && !inboundPorts.includes(p.containerPort)) inboundPorts.push(p.containerPort);
    }
  }
  const probes = rewriteProbes(spec.containers);
  // A pod that runs to completion (a Job's): native sidecars end by themselves; a regular-container proxy must notice the
  // app is gone, which it can only see with a shared process namespace.
  const runsToCompletion = spec.restartPolicy === 'Never' || spec.restartPolicy === 'OnFailure';
  const exitOnAppExit = !options.nativeSidecar && runsToCompletion;
  const warnings = [...probes.warnings];
  if (exitOnAppExit && spec.shareProcessNamespace === false) {
    warnings.push('shareProcessNamespace is false: the proxy cannot see the app exit; the app must POST /quitquitquit to 127.0.0.1:15000 for the pod to complete');
  }

  const init = buildInitContainer(settings, rules);
  const sidecar = buildSidecar({ settings, options, appContainers: spec.containers, inboundPorts, appProbes: probes.appProbes, exitOnAppExit });

  const ops: JsonPatchOp[] = [];
  for (const rw of probes.rewrites) ops.push({ op: 'replace', path: `/spec/containers/${rw.containerIndex}/${rw.field}`, value: rw.probe });
  const existingInit = spec.initContainers ?? [];
  if (options.nativeSidecar) {
    // skein-init, then the proxy, then the pod's own init containers (which thus already run in the mesh).
    if (existingInit.length === 0) ops.push({ op: 'add', path: '/spec/initContainers', value: [init, sidecar] });
    else ops.push({ op: 'add', path: '/spec/initContainers/0', value: init }, { op: 'add', path: '/spec/initContainers/1', value: sidecar });
  } else {
    // The pod's own init containers run before interception starts: no proxy is running yet to carry their traffic.
    if (existingInit.length === 0) ops.push({ op: 'add', path: '/spec/initContainers', value: [init] });
    else ops.push({ op: 'add', path: '/spec/initContainers/-', value: init });
    ops.push({ op: 'add', path: '/spec/containers/0', value: sidecar });
  }
  if (!spec.volumes) ops.push({ op: 'add', path: '/spec/volumes', value: [tokenVolume(settings)] });
  else ops.push({ op: 'add', path: '/spec/volumes/-', value: tokenVolume(settings) });
  if (exitOnAppExit && spec.shareProcessNamespace === undefined) ops.push({ op: 'add', path: '/spec/shareProcessNamespace', value: true });

  const status: InjectionStatus = {
    version: INJECTION_STATUS_VERSION,
    mode: options.nativeSidecar ? 'native-sidecar' : 'regular-container',
    initContainers: options.nativeSidecar ? [INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME] : [INIT_CONTAINER_NAME],
    containers: options.nativeSidecar ? [] : [SIDECAR_CONTAINER_NAME],
    volumes: [TOKEN_VOLUME_NAME],
    rewrittenProbes: probes.rewrites.map((r) => r.path),
    exitOnAppExit,
  };
  const newLabels = { [INJECTED_LABEL]: 'true' };
  const newAnnotations: Record<string, string> = {
    [INJECTION_STATUS_ANNOTATION]: JSON.stringify(status),
    ...scrapeAnnotations(annotations),
    ...(settings.trustAnchorsPem !== '' ? { [MESH_IDENTITY_ANNOTATION]: 'enabled' } : {}),
  };
  if (!pod.metadata) ops.push({ op: 'add', path: '/metadata', value: { labels: newLabels, annotations: newAnnotations } });
  else {
    ops.push(...mapPatch('/metadata/labels', pod.metadata.labels, newLabels));
    ops.push(...mapPatch('/metadata/annotations', pod.metadata.annotations, newAnnotations));
  }

  const applied = applyJsonPatch(pod, ops);
  // The ops are built from the same pod they apply to; failing here is a bug, surfaced as a skip rather than a bad patch.
  if (!applied.ok) return skipped('malformed-pod', `not injected: internal patch error: ${applied.error}`, true);
  return { kind: 'injected', patch: ops, pod: applied.value as Pod, status, rules, warnings };
}
