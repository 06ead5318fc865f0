// The running proxy's state built from one config: route tables and upstream clusters, replaced atomically on update.
import type { ListenerConfig, ProxyConfig } from '../api/config/proxy-config.ts';
import { SkeinPolicyLayers } from './policy/policy-layers.ts';
import type { ListenerContext, ListenerSnapshot } from './http/listener-context.ts';
import { RouteTable } from './routing/route-table.ts';
import { ownWorkload } from './telemetry/peer-labels.ts';
import type { ProxyMetrics } from './telemetry/proxy-metrics.ts';
import type { WorkloadEnv } from './telemetry/workload-env.ts';
import { requestTelemetry, type RequestTelemetry } from './telemetry/request-telemetry.ts';
import type { StackHooks } from './stack/stack-hooks.ts';
import { UpstreamCluster } from './upstream/upstream-cluster.ts';

export class ProxyRuntime {
  /** The policy layers; one instance, so breakers, detectors and buckets outlive config versions. */
  readonly #policy = new SkeinPolicyLayers();
  readonly metrics: ProxyMetrics;
  #config: ProxyConfig;
  #clusters: Map<string, UpstreamCluster>;
  #snapshots: Map<string, ListenerSnapshot>;
  #inFlight = 0;
  #draining = false;
  #idleWaiters: (() => void)[] = [];

  /** What the pod's environment says about this proxy's workload (config wins where it says something). */
  readonly #env: WorkloadEnv;

  constructor(config: ProxyConfig, metrics: ProxyMetrics, env: WorkloadEnv = {}) {
    this.metrics = metrics;
    this.#env = env;
    this.#config = config;
    this.#clusters = new Map();
    this.#snapshots = new Map();
    this.#build(config);
    metrics.configApplied(config.version);
  }

  /** Tracing and access logs; rebuilt only when their inputs change (the span queue survives other config changes). */
  #telemetry: RequestTelemetry | null = null;

  #build(config: ProxyConfig): void {
    const self = ownWorkload(config.telemetry.workload, this.#env);
    this.metrics.setWorkload(self);
    const telemetry = requestTelemetry(config.telemetry, self, { metrics: this.metrics, accessLogAnnotation: this.#env.accessLog ?? false, node: config.node });
    if (this.#telemetry === null || this.#telemetry.key !== telemetry.key) {
      this.#telemetry?.close();
      this.#telemetry = telemetry;
    } else {
      telemetry.close();
    }
    const clusters = new Map<string, UpstreamCluster>();
    for (const c of config.clusters) clusters.set(c.name, new UpstreamCluster(c, config.limits, this.#clusters.get(c.name) ?? null));
    const snapshots = new Map<string, ListenerSnapshot>();
    const needsOriginalDst = config.clusters.some((c) => c.type === 'original-destination');
    for (const l of config.listeners) {
      snapshots.set(l.name, { mode: config.mode, listener: l, limits: config.limits, routes: new RouteTable(l.virtualHosts), clusters, needsOriginalDst });
    }
    const old = this.#clusters;
    this.#clusters = clusters;
    this.#snapshots = snapshots;
    for (const [name, c] of old) c.retire(clusters.get(name) ?? null);
  }

  get config(): ProxyConfig {
    return this.#config;
  }

  /**
   * Swaps in a new (already validated) config. Listener addresses are fixed at start: a config that adds, removes or
   * moves a listener is refused with the reason, and the current config keeps serving.
   */
  apply(config: ProxyConfig): { ok: true } | { ok: false; reason: string } {
    const current = new Map(this.#config.listeners.map((l) => [l.name, l]));
    if (config.listeners.length !== current.size) return { ok: false, reason: 'listeners cannot be added or removed without a restart' };
    for (const l of config.listeners) {
      const c = current.get(l.name);
      if (!c || c.address !== l.address || c.port !== l.port || c.protocol !== l.protocol) {
        return { ok: false, reason: `listener ${l.name}: address, port and protocol cannot change without a restart` };
      }
    }
    this.#build(config);
    this.#config = config;
    this.metrics.configApplied(config.version);
    return { ok: true };
  }

  /** The stack hooks of the current config (read when a snapshot's stack is built). */
  get hooks(): StackHooks | undefined {
    return this.#telemetry?.hooks ?? undefined;
  }

  /** Sends the spans still queued (on drain); resolves when that export is done or failed. */
  async flushTelemetry(): Promise<void> {
    await this.#telemetry?.batcher?.flush();
  }

  listenerContext(listener: ListenerConfig): ListenerContext {
    const name = listener.name;
    const hooks = (): StackHooks | undefined => this.hooks;
    return {
      get hooks() {
        return hooks();
      },
      snapshot: () => this.#snapshots.get(name)!,
      metrics: this.metrics,
      policy: this.#policy,
      draining: () => this.#draining,
      requestStarted: () => {
        this.#inFlight++;
      },
      requestFinished: () => {
        this.#inFlight--;
        if (this.#inFlight === 0) for (const w of this.#idleWaiters.splice(0)) w();
      },
    };
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get draining(): boolean {
    return this.#draining;
  }

  startDrain(): void {
    this.#draining = true;
  }

  /** Resolves when no request is in flight. */
  whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  close(): void {
    this.#telemetry?.close();
    for (const c of this.#clusters.values()) c.retire(null);
  }
}
