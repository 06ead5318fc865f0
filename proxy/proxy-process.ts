// Starts a whole proxy (listeners + admin) from a config, and runs it as a process: signals, drain, exit codes.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../api/config/proxy-config.ts';
import { startAdminServer } from './admin/admin-server.ts';
import { startHealthServer, type AppProbe } from './admin/health-server.ts';
import type { Hello } from '../api/proto/config-discovery.ts';
import { ConfigFileWatcher, type ConfigFileWatcherOptions } from './config/config-file-watcher.ts';
import type { ControlPlaneClient } from './control/control-plane-client.ts';
import type { BackoffOptions } from './control/reconnect-backoff.ts';
import { log } from './log.ts';
import { watchAppExit } from './sidecar/app-exit-watcher.ts';
import { pinPerformanceGlobal } from './performance-global.ts';
import { ProxyRuntime, type WorkloadTlsSource } from './proxy-runtime.ts';
import { ProxyMetrics } from './telemetry/proxy-metrics.ts';
import { readWorkloadEnv } from './telemetry/workload-env.ts';
import type { WorkerLink } from './workers/worker-link.ts';

export interface RunningProxy {
  readonly runtime: ProxyRuntime;
  /** Sidecar mode: the config-discovery client feeding the runtime (null without a control plane). */
  readonly controlPlane: ControlPlaneClient | null;
  /** Bound address of each listener by name (port 0 in the config becomes a real port here). */
  readonly listeners: ReadonlyMap<string, AddressInfo>;
  readonly admin: AddressInfo;
  /** Stops accepting, lets in-flight requests finish (up to the drain timeout), then closes everything. */
  drain(): Promise<'drained' | 'timeout'>;
  /** Closes everything at once. */
  close(): Promise<void>;
  /** Resolves when a shutdown was requested through the admin endpoint. */
  readonly shutdownRequested: Promise<void>;
  /** Called on POST /app-handoff (set by runProxyProcess when it watches for the app's exit). */
  onAppHandoff: (() => void) | undefined;
}

export interface ProxyProcessOptions {
  /** The sidecar's health listener (kubelet probes): the proxy's /ready and the app's rewritten probes. */
  readonly health?: { readonly address: string; readonly port: number; readonly probes: ReadonlyMap<string, AppProbe> };
  /** A run-to-completion pod in regular-container mode: drain and exit 0 once the app's processes are gone (runProxyProcess). */
  readonly exitOnAppExit?: { readonly procRoot?: string };
  /** Sidecar mode: take config from the control plane (the config given is the bootstrap that serves until it answers). */
  readonly controlPlane?: {
    readonly address: string;
    readonly hello: Omit<Hello, 'knownVersions'>;
    readonly backoff?: BackoffOptions;
  };
  /** `--config FILE`: reload it when it changes and on SIGHUP (runProxyProcess). */
  readonly configFile?: Omit<ConfigFileWatcherOptions, 'runtime'>;
  /** Lines /ready adds to its answer. */
  readonly readyDetails?: () => readonly string[];
  /** This workload's mesh certificate (WorkloadCertificateManager): the proxy is not ready until it has one. */
  readonly identity?: WorkloadTlsSource & { notReadyReason(): string | null };
  /** The registry to use (the certificate manager counts into the same one); a new one by default. */
  readonly metrics?: ProxyMetrics;
  /** Members /config_dump adds. */
  readonly configDumpExtra?: () => Record<string, unknown>;
  /**
   * One of the ingress's worker processes (proxy-workers.ts): /metrics answers for the whole proxy, and the local rate
   * limits are shared with the other workers. Absent (a sidecar, `--workers 1`): this process alone, no IPC.
   */
  readonly worker?: WorkerLink;
}

export async function startProxy(config: ProxyConfig, options: ProxyProcessOptions = {}): Promise<RunningProxy> {
  const metrics = options.metrics ?? new ProxyMetrics();
  const worker = options.worker;
  const runtime = new ProxyRuntime(config, metrics, options.identity ?? null, readWorkloadEnv(process.env), worker?.rateLimits ?? null);
  const metricsText =
    worker === undefined ? async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }) : () => worker.metricsText();
  worker?.serve(metrics.registry);
  await runtime.start();
  const identity = options.identity;
  const ready = (): boolean => !runtime.draining && (identity?.notReadyReason() ?? null) === null;
  let requestShutdown!: () => void;
  const shutdownRequested = new Promise<void>((r) => (requestShutdown = r));
  let admin: { server: Server; address: AddressInfo };
  let onAppHandoff: (() => void) | undefined;
  let controlPlane: ControlPlaneClient | null = null;
  if (options.controlPlane) {
    // Loaded only here: a proxy without a control plane never pays for gRPC.
    const { ControlPlaneClient } = await import('./control/control-plane-client.ts');
    controlPlane = new ControlPlaneClient({
      ...options.controlPlane,
      apply: (changes) => runtime.applyChangeSet(changes),
      log,
      onStatus: (s) => log('info', 'control plane state', { state: s.state, version: s.version, lastError: s.lastError }),
      onIgnored: (resources) => metrics.configIgnored(resources.length),
    });
  }
  const readyDetails = (): string[] => {
    const why = identity?.notReadyReason() ?? null;
    return [
      ...(why === null ? [] : [why]),
      ...(controlPlane ? [controlPlane.readinessDetail()] : []),
      ...(options.readyDetails?.() ?? []),
      `config ${runtime.version}`,
    ];
  };
  try {
    admin = await startAdminServer(
      {
        ready,
        readyDetails,
        metricsText,
        configDump: () => ({ ...runtime.configDump(), ...(controlPlane ? { controlPlane: controlPlane.status } : {}), ...(options.configDumpExtra?.() ?? {}) }),
        requestShutdown,
        appHandoff: () => onAppHandoff?.(),
      },
      config.admin.address,
      config.admin.port,
    );
  } catch (e) {
    runtime.close();
    throw e;
  }
  let health: Server | null = null;
  if (options.health) {
    try {
      health = (await startHealthServer(ready, options.health.probes, options.health.address, options.health.port, metricsText, readyDetails)).server;
    } catch (e) {
      runtime.close();
      admin.server.close();
      throw e;
    }
  }
  controlPlane?.start();
  const closeAll = async (): Promise<void> => {
    controlPlane?.stop();
    runtime.close();
    health?.closeAllConnections();
    health?.close();
    admin.server.closeAllConnections();
    await new Promise<void>((r) => admin.server.close(() => r()));
  };
  return {
    runtime,
    controlPlane,
    listeners: runtime.addresses,
    admin: admin.address,
    shutdownRequested,
    get onAppHandoff() {
      return onAppHandoff;
    },
    set onAppHandoff(f) {
      onAppHandoff = f;
    },
    async drain() {
      runtime.startDrain();
      const sweep = setInterval(() => runtime.closeIdle(), 100);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        runtime.whenIdle().then(() => 'drained' as const),
        new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), config.drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      clearInterval(sweep);
      // The last spans, bounded by the export timeout (a collector that is down costs at most that at shutdown).
      await runtime.flushTelemetry();
      await closeAll();
      return outcome;
    },
    close: closeAll,
  };
}

/** Runs the proxy until SIGTERM/SIGINT (or POST /drain), then drains and exits 0. */
export async function runProxyProcess(config: ProxyConfig, options: ProxyProcessOptions = {}): Promise<void> {
  pinPerformanceGlobal();
  // A bug on one connection must not take every other connection down: log it, count it, keep serving.
  process.on('uncaughtException', (e) => log('error', 'uncaught exception (connection dropped, proxy continues)', { error: String(e?.stack ?? e) }));
  process.on('unhandledRejection', (e) => log('error', 'unhandled rejection', { error: String(e) }));
  let proxy: RunningProxy;
  try {
    proxy = await startProxy(config, options);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    log('error', 'cannot start proxy', { error: err.code === 'EADDRINUSE' ? `address in use: ${err.message}` : err.message });
    process.exit(1);
  }
  for (const [name, a] of proxy.listeners) log('info', 'listening', { listener: name, address: `${a.address}:${a.port}` });
  log('info', 'admin listening', { address: `${proxy.admin.address}:${proxy.admin.port}`, version: config.version });
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    watcher?.stop();
    log('info', 'draining', { reason: why, inFlight: proxy.runtime.inFlight, timeoutMs: config.drainTimeoutMs });
    void proxy.drain().then((outcome) => {
      log('info', 'stopped', { outcome });
      process.exit(0);
    });
  };
  let watcher: ConfigFileWatcher | null = null;
  if (options.configFile) {
    watcher = new ConfigFileWatcher({ ...options.configFile, runtime: proxy.runtime });
    watcher.start();
  }
  // Without a handler SIGHUP would end the process.
  process.on('SIGHUP', () => {
    if (watcher) void watcher.reload('SIGHUP');
    else log('info', 'SIGHUP: no config file to reload', { version: proxy.runtime.version });
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  void proxy.shutdownRequested.then(() => stop('admin'));
  if (options.exitOnAppExit) {
    const proxyUid = process.getuid?.() ?? -1;
    const watcher = watchAppExit({
      procRoot: options.exitOnAppExit.procRoot,
      proxyUid,
      onAppStart: (apps) => log('info', 'the app is running', { processes: apps.map((p) => `${p.pid}:${p.name}`).join(',') }),
      onAppExit: (last) => {
        log('info', 'the app exited', { lastProcesses: last.map((p) => `${p.pid}:${p.name}`).join(',') });
        stop('app exited');
      },
    });
    proxy.onAppHandoff = () => {
      log('info', 'the app is starting (postStart hook done)');
      watcher.handoff();
    };
    log('info', 'exiting when the app exits', { proxyUid });
  }
}
