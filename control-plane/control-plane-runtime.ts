// `skein control-plane` as a whole: ingestion (informers that only notify) -> translation (cached, read at push time)
// -> serving (gRPC config discovery), the identity service (CA + Certify over TLS), plus the debug endpoint and, on the
// replica holding the Lease, the status writer.
import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { MESH_NAMESPACE } from '../api/mesh/mesh-constants.ts';
import { ClusterWatcher } from './ingestion/cluster-watcher.ts';
import { InformerMetrics } from './ingestion/informer-metrics.ts';
import { backendTlsPolicyStatusUpdates, gatewayClassStatusUpdates, gatewayServiceUpdates, gatewayStatusUpdates, routeStatusUpdates, trafficPolicyStatusUpdates } from './status/desired-status.ts';
import { inboundPolicyStatusUpdates } from './status/inbound-policy-status.ts';
import { DEFAULT_TRUST_DOMAIN } from '../api/proto/identity.ts';
import { KubeLeaseStore, STATUS_LEASE_NAME } from './status/kube-lease-store.ts';
import { kubeStatusWrite } from './status/kube-status-write.ts';
import { LeaseElector } from './status/lease-elector.ts';
import { StatusWriter } from './status/status-writer.ts';
import { kubeServiceWrite } from './status/kube-service-write.ts';
import type { ServiceChange } from './translation/gateway-services.ts';
import { ConfigServer, type ServingLog } from './serving/config-server.ts';
import { exposedGcReclaim } from './serving/idle-reclaimer.ts';
import { startDebugServer } from './serving/debug-server.ts';
import { ServingMetrics } from './serving/serving-metrics.ts';
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
  /** Where the status-writer Lease lives (default skein-system). */
  readonly leaseNamespace?: string;
  readonly leaseName?: string;
  /** Authorization of a workload no AuthorizationPolicy selects (default allow; a namespace annotation overrides it). */
  readonly authorizationDefault?: 'allow' | 'deny';
  /** Inbound mTLS mode when no MeshTLSPolicy says anything (default permissive). */
  readonly mtlsMode?: 'permissive' | 'strict';
  /** Lease timings (tests shorten them); defaults as client-go: 15 s duration, 10 s renew deadline, 2 s retry. */
  readonly lease?: { readonly durationMs?: number; readonly renewDeadlineMs?: number; readonly retryPeriodMs?: number };
}

export interface RunningControlPlane {
  readonly grpcPort: number;
  /** The Certify port, when the identity service runs. */
  readonly identityPort: number | null;
  readonly registry: Registry;
  readonly debug: AddressInfo;
  readonly server: ConfigServer;
  readonly status: StatusWriter;
  readonly elector: LeaseElector;
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
    {
      podOf: (proxy) => watcher?.pod(proxy.namespace, proxy.podName),
      defaults: {
        trustDomain: opts.identity?.trustDomain ?? DEFAULT_TRUST_DOMAIN,
        meshNamespace: MESH_NAMESPACE,
        authorizationDefault: opts.authorizationDefault ?? 'allow',
        mtlsMode: opts.mtlsMode ?? 'permissive',
      },
    },
  );
  let synced = false;
  const status = new StatusWriter({
    inputs: () => watcher!.inputs(),
    compute: [trafficPolicyStatusUpdates, routeStatusUpdates, gatewayClassStatusUpdates, gatewayStatusUpdates, backendTlsPolicyStatusUpdates, (inputs, now) => inboundPolicyStatusUpdates(inputs, now, translator.inboundDefaults!)],
    write: kubeStatusWrite(opts.kubeConfig),
    log: opts.log,
  });
  // The per-Gateway Services (gateway-services.ts) are the leader's to keep, like status.
  const gatewayServices = new StatusWriter<ServiceChange>({
    inputs: () => watcher!.inputs(),
    compute: [gatewayServiceUpdates],
    write: kubeServiceWrite(opts.kubeConfig),
    log: opts.log,
  });
  const elector = new LeaseElector({
    store: new KubeLeaseStore(opts.kubeConfig, opts.leaseNamespace ?? MESH_NAMESPACE, opts.leaseName ?? STATUS_LEASE_NAME),
    identity: opts.replica,
    leaseDurationMs: opts.lease?.durationMs,
    renewDeadlineMs: opts.lease?.renewDeadlineMs,
    retryPeriodMs: opts.lease?.retryPeriodMs,
    onStartedLeading: () => {
      status.setLeading(true);
      gatewayServices.setLeading(true);
    },
    onStoppedLeading: () => {
      status.setLeading(false);
      gatewayServices.setLeading(false);
    },
    log: opts.log,
  });
  const registry = new Registry();
  const informerMetrics = new InformerMetrics(registry, () => watcher?.all() ?? []);
  watcher = new ClusterWatcher(opts.kubeConfig, {
    observer: informerMetrics,
    onChange: () => {
      // An informer callback: bump the generation, let the debouncer schedule the push and the status writer its pass.
      translator.invalidate();
      server?.changed('all');
      status.changed();
      gatewayServices.changed();
    },
    log: opts.log,
    trustDomain: opts.identity?.trustDomain ?? null,
  });
  const serving = new ServingMetrics(registry, () => server?.connectedCount ?? 0);
  server = new ConfigServer({ source: translator, replica: opts.replica, log: opts.log, events: serving.events(), reclaimMemory: exposedGcReclaim() });
  let debug: { server: Server; address: AddressInfo } | null = null;
  let identity: RunningIdentity | null = null;
  try {
    // The CA first: a control plane that cannot sign should say so at start, not at the first proxy's Certify.
    if (opts.identity) identity = await startIdentity(opts.kubeConfig, opts.identity, registry, opts.log);
    await watcher.start();
    synced = true;
    translator.invalidate();
    // Only once the caches listed: a leader with empty caches would compute nothing, or worse, stale status.
    elector.start();
    const grpcPort = await server.listen(opts.grpcAddress, opts.grpcPort);
    debug = await startDebugServer(
      {
        replica: opts.replica,
        proxies: () => server.proxies(),
        problems: () => translator.problems(),
        ready: () => synced,
        status: () => ({ leading: elector.leading, holder: elector.observedHolder, writes: status.writes, conflicts: status.conflicts, failures: status.failures }),
        metrics: () => registry.metrics(),
      },
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
      status,
      elector,
      async stop() {
        await id?.stop();
        status.stop();
        gatewayServices.stop();
        await elector.stop();
        await server.close();
        d.server.closeAllConnections();
        d.server.close();
        await watcher.stop();
      },
    };
  } catch (e) {
    await identity?.stop();
    status.stop();
    gatewayServices.stop();
    await elector.stop();
    await server.close();
    debug?.server.close();
    await watcher.stop();
    throw e;
  }
}
