// The mesh-identity e2e setup, shared by the files that need it: the local mesh (test/support/local-mesh.ts) and three
// injected workloads in one namespace (echo, caller -> echo as ServiceAccount caller, grpc-echo), reached from the host.
import type * as k8s from '@kubernetes/client-node';
import { AppsV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import http from 'node:http';
import { MESH_IDENTITY_ANNOTATION, MESH_NAMESPACE, PROXY_HEALTH_PORT, PROXY_PROMETHEUS_PATH, TRUST_BUNDLE_CONFIGMAP } from '../../api/mesh/mesh-constants.ts';
import type { LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { waitFor } from '../e2e/wait-for.ts';
import { exampleDeployment, startLocalMesh } from './local-mesh.ts';

export const MESH_IDENTITY_NS = 'e2e-identity';
export const CALLER_ID = `spiffe://cluster.local/ns/${MESH_IDENTITY_NS}/sa/caller`;
export const CONTROL_PLANE_DEPLOYMENT = 'skein-control-plane';
export const MESH_APPS = ['echo', 'caller', 'grpc-echo'] as const;
/** echo's plain TCP echo port (container and Service). */
export const ECHO_TCP_PORT = 9000;

function workloads(): k8s.KubernetesObject[] {
  const namespace = MESH_IDENTITY_NS;
  const service = (name: string, port: number, targetPort: number, portName: string) =>
    ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector: { app: name }, ports: [{ name: portName, port, targetPort }] } }) as k8s.KubernetesObject;
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'skein.dev/inject': 'enabled' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'caller', namespace } },
    // Echo also serves a plain TCP echo on ECHO_TCP_PORT: opaque TCP through both sidecars (mTLS, ALPN skein-tcp/1).
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace }, spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'tcp-echo', port: ECHO_TCP_PORT, targetPort: ECHO_TCP_PORT }] } } as k8s.KubernetesObject,
    service('grpc-echo', 9090, 9090, 'grpc'),
    exampleDeployment({ namespace, name: 'echo', app: 'echo', tcpPort: ECHO_TCP_PORT }),
    exampleDeployment({ namespace, name: 'caller', app: 'caller', serviceAccountName: 'caller', env: { UPSTREAM_URL: `http://echo.${namespace}.svc.cluster.local` } }),
    exampleDeployment({ namespace, name: 'grpc-echo', app: 'grpc-echo', port: 9090 }),
  ];
}

export interface EchoSeen {
  readonly headers: Record<string, string | undefined>;
}

export interface MeshIdentityClusterOptions {
  /** Extra arguments for the control plane's container (e.g. `--cert-ttl=120s`). */
  readonly controlPlaneArgs?: readonly string[];
}

export interface MeshIdentityCluster {
  readonly cluster: LocalClusterDetails;
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly apps: k8s.AppsV1Api;
  /** Pod IP of each app (echo, caller, grpc-echo). */
  readonly ips: ReadonlyMap<string, string>;
  /** The caller app calls echo's Service through both sidecars (mTLS between them); what the caller and echo saw. */
  viaCaller(path: string): Promise<{ upstreamStatus: number; echo: EchoSeen | null }>;
  /**
   * A plain-text request from outside the mesh (the host) straight to echo's pod, through echo's inbound sidecar, on a new
   * connection every time.
   */
  plainToEcho(path: string, headers?: Record<string, string>): Promise<{ status: number; echo: EchoSeen | null } | 'refused'>;
  /** The Prometheus text of an app's sidecar. */
  sidecarMetrics(app: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts the cluster, installs the mesh from manifests/ and the three workloads, and waits until all of it is ready. */
export async function startMeshIdentityCluster(opts: MeshIdentityClusterOptions = {}): Promise<MeshIdentityCluster> {
  const NS = MESH_IDENTITY_NS;
  const mesh = await startLocalMesh({ ...(opts.controlPlaneArgs ? { controlPlaneArgs: opts.controlPlaneArgs } : {}) });
  try {
    const { cluster, kc, core } = mesh;
    // The injector gives new pods the mesh roots only once the control plane has published them.
    await waitFor('the trust bundle ConfigMap', () => core.readNamespacedConfigMap({ name: TRUST_BUNDLE_CONFIGMAP, namespace: MESH_NAMESPACE }), 60_000);
    await mesh.deploy(workloads(), 240_000);
    const ips = new Map<string, string>();
    for (const app of MESH_APPS) {
      const pod = await waitFor(`the ${app} pod`, async () => (await core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` })).items.find((p) => p.status?.podIP && !p.metadata?.deletionTimestamp));
      if (pod.metadata?.annotations?.[MESH_IDENTITY_ANNOTATION] !== 'enabled') throw new Error(`${app} has no mesh identity`);
      ips.set(app, pod.status!.podIP!);
    }

    const viaCaller = async (path: string): Promise<{ upstreamStatus: number; echo: EchoSeen | null }> => {
      const res = await fetch(`http://${ips.get('caller')}:8080${path}`, { signal: AbortSignal.timeout(15_000) });
      const doc = (await res.json()) as { upstreamStatus?: number; upstreamBody?: string };
      let echo: EchoSeen | null = null;
      try {
        echo = JSON.parse(doc.upstreamBody ?? '') as EchoSeen;
      } catch {}
      return { upstreamStatus: doc.upstreamStatus ?? 0, echo };
    };
    const plainToEcho = (path: string, headers: Record<string, string> = {}): Promise<{ status: number; echo: EchoSeen | null } | 'refused'> =>
      new Promise((resolve) => {
        const req = http.request({ host: ips.get('echo'), port: 8080, path, headers, agent: false, timeout: 10_000 }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            let echo: EchoSeen | null = null;
            try {
              echo = JSON.parse(text) as EchoSeen;
            } catch {}
            resolve({ status: res.statusCode ?? 0, echo });
          });
          res.on('error', () => resolve('refused'));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolve('refused'));
        req.end();
      });
    const sidecarMetrics = async (app: string): Promise<string> => {
      const res = await fetch(`http://${ips.get(app)}:${PROXY_HEALTH_PORT}${PROXY_PROMETHEUS_PATH}`, { signal: AbortSignal.timeout(10_000) });
      return res.text();
    };
    return {
      cluster,
      kc,
      core,
      custom: kc.makeApiClient(CustomObjectsApi),
      apps: kc.makeApiClient(AppsV1Api),
      ips,
      viaCaller,
      plainToEcho,
      sidecarMetrics,
      stop: () => mesh.stop(),
    };
  } catch (e) {
    await mesh.stop();
    throw e;
  }
}
