// `skein control-plane` as a whole: ingestion (informers that only notify) -> translation (cached, read at push time)
// -> serving (gRPC config discovery), plus the debug endpoint.
import type { KubeConfig } from '@kubernetes/client-node';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ClusterWatcher } from './ingestion/cluster-watcher.ts';
import { ConfigServer, type ServingLog } from './serving/config-server.ts';
import { startDebugServer } from './serving/debug-server.ts';
import { OUTBOUND_NAMESPACES_ANNOTATION, parseNamespaceList } from './translation/mesh-inputs.ts';
import { MeshTranslator } from './translation/mesh-translator.ts';

export interface ControlPlaneOptions {
  readonly kubeConfig: KubeConfig;
  readonly replica: string;
  readonly grpcAddress: string;
  readonly grpcPort: number;
  readonly debugAddress: string;
  readonly debugPort: number;
  readonly log: ServingLog;
}

export interface RunningControlPlane {
  readonly grpcPort: number;
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
  let debug: { server: Server; address: AddressInfo } | null = null;
  try {
    await watcher.start();
    synced = true;
    translator.invalidate();
    const grpcPort = await server.listen(opts.grpcAddress, opts.grpcPort);
    debug = await startDebugServer({ replica: opts.replica, proxies: () => server.proxies(), problems: () => translator.problems(), ready: () => synced }, opts.debugAddress, opts.debugPort);
    const d = debug;
    return {
      grpcPort,
      debug: d.address,
      server,
      async stop() {
        await server.close();
        d.server.closeAllConnections();
        d.server.close();
        await watcher.stop();
      },
    };
  } catch (e) {
    await server.close();
    debug?.server.close();
    await watcher.stop();
    throw e;
  }
}
