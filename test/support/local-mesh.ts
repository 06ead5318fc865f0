// A mesh on the local cluster for e2e tests: the control plane and the injector installed from manifests/ as a user installs
// them, optionally with the demo's Prometheus and Jaeger (every sidecar exporting spans to it), and the test's workloads.
import * as k8s from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MESH_NAMESPACE, TRUST_BUNDLE_CONFIGMAP } from '../../api/mesh/mesh-constants.ts';
import { startJaeger, type JaegerAddon } from '../../local-cluster/addons/jaeger.ts';
import { startPrometheus, type PrometheusAddon } from '../../local-cluster/addons/prometheus.ts';
import { applyCrds, waitCrdsEstablished } from '../../local-cluster/apply-crds.ts';
import { applyManifests, readManifests } from '../../local-cluster/apply-manifests.ts';
import { gatewayApiCrdTexts } from '../../local-cluster/gateway-api-crds.ts';
import { startLocalCluster, type LocalClusterDetails, type LocalNodeKind } from '../../local-cluster/cluster.ts';
import { unavailableDeployments } from '../../local-cluster/demo-mesh-parts.ts';
import { nodeAddress, withTraceCollector } from '../../local-cluster/demo-trace-check.ts';
import { REPO_ROOT } from '../../local-cluster/images/skein-images.ts';
import { poll } from '../../local-cluster/poll.ts';

export interface LocalMeshOptions {
  /** Which node the cluster runs (the default node when absent). */
  readonly node?: LocalNodeKind;
  /**
   * Starts Prometheus (scraping with the shipped jobs of manifests/observability/) and Jaeger, and sets the injector's
   * mesh-wide `--trace-collector` to Jaeger with this sampling share for new traces (a caller's sampled flag is honoured anyway).
   */
  readonly observability?: { readonly samplingPercent: number };
  /**
   * Installs the Gateway API CRDs (from the Go module, local-cluster/gateway-api-crds.ts) before the control plane, so that
   * its HTTPRoute and GRPCRoute informers list from the start (GAMMA routes).
   */
  readonly gatewayApiCrds?: boolean;
  /** Arguments added to the control plane's container (e.g. `--cert-ttl=120s`). */
  readonly controlPlaneArgs?: readonly string[];
  readonly log?: (line: string) => void;
}

/** The control plane's manifests, with `args` added to its container. */
function controlPlaneManifests(args: readonly string[]): k8s.KubernetesObject[] {
  const objects = readManifests(join(REPO_ROOT, 'manifests', 'control-plane'));
  if (args.length === 0) return objects;
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'skein-control-plane') as k8s.V1Deployment | undefined;
  const container = d?.spec?.template.spec?.containers[0];
  if (container === undefined) throw new Error('no skein-control-plane Deployment in manifests/control-plane');
  container.args = [...(container.args ?? []), ...args];
  return objects;
}

export interface LocalMesh {
  readonly cluster: LocalClusterDetails;
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  /** Set with `observability`. */
  readonly prometheus?: PrometheusAddon;
  /** Set with `observability`. */
  readonly jaeger?: JaegerAddon;
  /**
   * Applies workloads as a user would: Namespaces first (their default ServiceAccount must exist before an injected pod is
   * admitted), then the rest; resolves once every Deployment among them is available, else throws naming the ones that are not.
   */
  deploy(objects: readonly k8s.KubernetesObject[], timeoutMs?: number): Promise<void>;
  /** Stops everything it started (the addons, then the cluster); safe to call twice. */
  stop(): Promise<void>;
}

async function applyAvailable(cluster: LocalClusterDetails, kc: k8s.KubeConfig, objects: readonly k8s.KubernetesObject[], timeoutMs: number, log: (line: string) => void): Promise<void> {
  await applyManifests(cluster.kubeconfigPath, objects, log);
  const missing = await unavailableDeployments(kc, objects, timeoutMs);
  if (missing.length > 0) throw new Error(`not available after ${Math.round(timeoutMs / 1000)} s: ${missing.join(', ')}`);
}

export async function startLocalMesh(opts: LocalMeshOptions = {}): Promise<LocalMesh> {
  const log = opts.log ?? (() => {});
  const workDir = mkdtempSync(join(tmpdir(), 'skein-local-mesh-'));
  const stoppers: (() => Promise<void>)[] = [() => Promise.resolve(rmSync(workDir, { recursive: true, force: true }))];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const s of stoppers.reverse()) await s().catch((e: unknown) => log(`local mesh: stop failed: ${(e as Error).message}`));
    })());
  try {
    const cluster = await startLocalCluster({ ...(opts.node ? { node: opts.node } : {}), log });
    stoppers.push(() => cluster.stop());
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    let prometheus: PrometheusAddon | undefined;
    let jaeger: JaegerAddon | undefined;
    let injector = readManifests(join(REPO_ROOT, 'manifests', 'injector'));
    if (opts.observability) {
      [prometheus, jaeger] = await Promise.all([startPrometheus({ workDir, kubeconfigPath: cluster.kubeconfigPath, log }), startJaeger({ workDir, log })]);
      const [p, j] = [prometheus, jaeger];
      stoppers.push(() => p.stop(), () => j.stop());
      // Pods reach Jaeger on this machine at the node's address, as in the demo.
      const node = await nodeAddress(kc);
      if (!node) throw new Error('the node has no InternalIP for the sidecars to reach Jaeger at');
      injector = withTraceCollector(injector, `http://${node}:${j.otlpHttpPort}/v1/traces`, opts.observability.samplingPercent);
    }
    if (opts.gatewayApiCrds) await waitCrdsEstablished(kc, await applyCrds(kc, await gatewayApiCrdTexts()), 60_000);
    await applyAvailable(cluster, kc, controlPlaneManifests(opts.controlPlaneArgs ?? []), 180_000, log);
    // The injector gives new pods the mesh roots (and so workload certificates, mTLS, caller identities) only once the
    // control plane has published them.
    const bundle = await poll(() => core.readNamespacedConfigMap({ name: TRUST_BUNDLE_CONFIGMAP, namespace: MESH_NAMESPACE }), 60_000);
    if (!bundle) throw new Error(`the control plane published no trust bundle (${MESH_NAMESPACE}/${TRUST_BUNDLE_CONFIGMAP}) in 60 s`);
    await applyAvailable(cluster, kc, injector, 180_000, log);
    const deploy = async (objects: readonly k8s.KubernetesObject[], timeoutMs = 180_000): Promise<void> => {
      const namespaces = objects.filter((o) => o.kind === 'Namespace');
      await applyManifests(cluster.kubeconfigPath, namespaces, log);
      for (const ns of namespaces) {
        const ok = await poll(() => core.readNamespacedServiceAccount({ name: 'default', namespace: ns.metadata!.name! }), 60_000);
        if (!ok) throw new Error(`namespace ${ns.metadata!.name!} has no default ServiceAccount after 60 s`);
      }
      await applyAvailable(cluster, kc, objects.filter((o) => o.kind !== 'Namespace'), timeoutMs, log);
    };
    return { cluster, kc, core, ...(prometheus ? { prometheus } : {}), ...(jaeger ? { jaeger } : {}), deploy, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * A Deployment of one of the example apps (skein.dev/example-<app>:e2e) with POD_NAME and POD_NAMESPACE set, as the
 * examples expect, and `env` added. An HTTP app (the default) gets a readiness probe on /healthz of its port.
 */
export function exampleDeployment(d: {
  readonly namespace: string;
  readonly name: string;
  readonly app: 'echo' | 'caller' | 'grpc-echo' | 'loadgen';
  readonly replicas?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly port?: number;
  /** echo only: its TCP echo on this port too (opaque TCP through the sidecars). */
  readonly tcpPort?: number;
  readonly serviceAccountName?: string;
}): k8s.KubernetesObject {
  const port = d.port ?? 8080;
  const http = d.app !== 'grpc-echo';
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: d.name, namespace: d.namespace },
    spec: {
      replicas: d.replicas ?? 1,
      selector: { matchLabels: { app: d.name } },
      template: {
        metadata: { labels: { app: d.name } },
        spec: {
          terminationGracePeriodSeconds: 2,
          ...(d.serviceAccountName ? { serviceAccountName: d.serviceAccountName } : {}),
          containers: [
            {
              name: d.name,
              image: `skein.dev/example-${d.app}:e2e`,
              ports: [{ name: http ? 'http' : 'grpc', containerPort: port }, ...(d.tcpPort ? [{ name: 'tcp-echo', containerPort: d.tcpPort }] : [])],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ...Object.entries({ PORT: String(port), ...(d.tcpPort ? { TCP_PORT: String(d.tcpPort) } : {}), ...d.env }).map(([name, value]) => ({ name, value })),
              ],
              ...(http ? { readinessProbe: { httpGet: { path: '/healthz', port }, periodSeconds: 1 } } : {}),
            },
          ],
        },
      },
    },
  } as k8s.KubernetesObject;
}
