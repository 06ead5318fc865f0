// `skein control-plane` as a whole: ingestion (informers that only notify) -> translation (cached, read at push time)
// -> serving (gRPC config discovery), the identity service (CA + Certify over TLS), plus the debug endpoint.
import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ClusterWatcher } from './ingestion/cluster-watcher.ts';
import { ConfigServer, type ServingLog } from './serving/config-server.ts';
import { startDebugServer } from './serving/debug-server.ts';
import { OUTBOUND_NAMESPACES_ANNOTATION, parseNamespaceList } from './translation/mesh-inputs.ts';
import { MeshTranslator } from './translation/mesh-translator.ts';
import { startIdentity, type IdentityOptions, type RunningIdentity } from './identity/start-identity.ts';

export interface ControlPlaneOptions {
  readonly kubeConfig: KubeConfig;
  readonly replica: string;
  readonly grpcAddress: string;
  readonly grpcPort: number;
  readonly debugAddress: string;
  readonly debugPort: number;
  readonly log: ServingLog;
  /** The identity service (CA + Certify); absent, the control plane serves config only. */
  readonly identity?: IdentityOptions;
}

export interface RunningControlPlane {
  readonly grpcPort: number;
  /** The Certify port, when the identity service runs. */
  readonly identityPort: number | null;
  readonly registry: Registry;
  readonly debug: AddressInfo;
  readonly server: ConfigServer;
  stop(): Promise<void>;
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<RunningControlPlane> {
  let server: ConfigServer | null = null;
  let watcher: ClusterWatcher | null = null;
  const translator = new MeshTranslator(
    (proxy) => {
      const pod = watcher?.pod(proxy.namespace, proxy.podName);
      return { namespace: proxy.namespace, outboundNamespaces: parseNamespaceList(pod?.metadata?.annotations?.[OUTBOUND_NAMESPACES_ANNOTATION], proxy.namespace) };
    },
    () => watcher!.inputs(),
  );
  let synced = false;
  watcher = new ClusterWatcher(opts.kubeConfig, {
    onChange: () => {
      // An informer callback: bump the generation and let the debouncer schedule the push. Nothing else here.
      translator.invalidate();
      server?.changed('all');
    },
    log: opts.log,
  });
  server = new ConfigServer({ source: translator, replica: opts.replica, log: opts.log });
  const registry = new Registry();
  let debug: { server: Server; address: AddressInfo } | null = null;
  let identity: RunningIdentity | null = null;
  try {
    // The CA first: a control plane that cannot sign should say so at start, not at the first proxy's Certify.
    if (opts.identity) identity = await startIdentity(opts.kubeConfig, opts.identity, registry, opts.log);
    await watcher.start();
    synced = true;
    translator.invalidate();
    const grpcPort = await server.listen(opts.grpcAddress, opts.grpcPort);
    debug = await startDebugServer(
      { replica: opts.replica, proxies: () => server.proxies(), problems: () => translator.problems(), ready: () => synced, metrics: () => registry.metrics() },
      opts.debugAddress,
      opts.debugPort,
    );
    const d = debug;
    const id = identity;
    return {
      grpcPort,
      identityPort: id?.port ?? null,
      registry,
      debug: d.address,
      server,
      async stop() {
        await id?.stop();
        await server.close();
        d.server.closeAllConnections();
        d.server.close();
        await watcher.stop();
      },
    };
  } catch (e) {
    await identity?.stop();
    await server.close();
    debug?.server.close();
    await watcher.stop();
    throw e;
  }
}
