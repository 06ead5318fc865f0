// The running proxy built from its config resources (listeners, route tables, clusters, endpoint sets, VIPs), changed only
// through applyChangeSet: validated whole, new sockets bound, then swapped at once; a refused change leaves nothing applied.
import type { AddressInfo } from 'node:net';
import type { ProxySettings, SecretResource } from '../api/config/config-resources.ts';
import type { ClusterConfig, ListenerConfig, ListenerTlsConfig, ProxyConfig, VirtualHostConfig } from '../api/config/proxy-config.ts';
import { resourceKey, type NackReason } from '../api/proto/config-discovery.ts';
import type { ApplyOutcome, ChangeSet } from './config/change-set.ts';
import { configResources, resourceSetVersion } from './config/config-resources-of.ts';
import { ConfigStore, type StagedConfig, type StoredResource } from './config/config-store.ts';
import { routeTableHosts, tablesOfChangedHosts } from './config/route-table-hosts.ts';
import type { ListenerContext, ListenerSnapshot } from './http/listener-context.ts';
import { buildAuthorizer } from './identity/authorizer.ts';
import { identityMetrics } from './identity/identity-metrics.ts';
import type { WorkloadTls } from './identity/workload-tls.ts';
import { ProxyListener } from './listener/proxy-listener.ts';
import { ServerTlsContexts } from './listener/tls-contexts.ts';
import { log } from './log.ts';
import type { SharedBuckets } from './policy/local-rate-limit.ts';
import { SkeinPolicyLayers } from './policy/policy-layers.ts';
import { RouteTable } from './routing/route-table.ts';
import { ServiceRouteTable } from './routing/service-route-table.ts';
import { ownWorkload } from './telemetry/peer-labels.ts';
import type { ProxyMetrics } from './telemetry/proxy-metrics.ts';
import { RateLimitedLog } from './telemetry/rate-limited-log.ts';
import { requestTelemetry, type RequestTelemetry } from './telemetry/request-telemetry.ts';
import type { WorkloadEnv } from './telemetry/workload-env.ts';
import type { StackHooks } from './stack/stack-hooks.ts';
import { UpstreamCluster } from './upstream/upstream-cluster.ts';
import { buildOriginatedTls, upstreamTlsSecrets, type OriginatedTls } from './upstream/upstream-tls.ts';

/** Where the runtime gets this workload's certificate (the WorkloadCertificateManager, or a test's fixed one). */
export interface WorkloadTlsSource {
  current(): WorkloadTls | null;
  /** Called with each new version; returns an unsubscribe function. */
  onRotate(fn: (tls: WorkloadTls) => void): () => void;
}

/** How many objects applies have built: lets tests see that an endpoint change rebuilt one balancer and no route table. */
export interface BuildCounters {
  routeTables: number;
  clusters: number;
  /** Balancers built in place by an endpoint-only change (a rebuilt cluster builds its own, counted under clusters). */
  balancers: number;
  snapshots: number;
}

export interface ConfigRejection {
  readonly version: string;
  readonly at: string;
  readonly reasons: readonly NackReason[];
}

/** Everything an apply builds before it commits; nothing in the running proxy is touched while it is made. */
interface Plan {
  readonly staged: StagedConfig;
  readonly settings: ProxySettings;
  readonly upstreams: Map<string, UpstreamCluster>;
  readonly retired: readonly UpstreamCluster[];
  readonly endpointUpdates: readonly (readonly [UpstreamCluster, ClusterConfig])[];
  readonly tables: Map<string, RouteTable>;
  readonly serviceTables: Map<string, ServiceRouteTable>;
  readonly snapshots: Map<string, ListenerSnapshot>;
  /** Listeners that need a socket of their own (new, or moved to another address or port). */
  readonly toBind: readonly string[];
  /** Running listeners to drain (removed, or moved). */
  readonly toRetire: readonly string[];
  readonly tlsReload: readonly string[];
}

const EMPTY_TABLE = new RouteTable([]);

/** Drained listeners still holding connections are closed this long after their removal at the latest. */
const REMOVED_LISTENER_SWEEP_MS = 100;

function byType<T extends StoredResource['type']>(all: ReadonlyMap<string, StoredResource>, type: T): Extract<StoredResource, { type: T }>[] {
  const out: Extract<StoredResource, { type: T }>[] = [];
  for (const r of all.values()) if (r.type === type) out.push(r as Extract<StoredResource, { type: T }>);
  return out;
}

/** The `secret` resources a listener's TLS names. */
export function listenerSecrets(t: ListenerTlsConfig | null): string[] {
  if (t === null) return [];
  return [...[t, ...(t.certificates ?? [])].flatMap((c) => (c.secret !== undefined ? [c.secret] : [])), ...(t.clientValidation?.caSecrets ?? [])];
}

function withoutEndpoints(c: ClusterConfig): string {
  return JSON.stringify({ ...c, endpoints: null });
}

export class ProxyRuntime {
  /** The policy layers; one instance, so breakers, detectors and buckets outlive config versions. */
  readonly #policy: SkeinPolicyLayers;
  readonly metrics: ProxyMetrics;
  /** Denial log lines, at most one per listener and reason every 10 s (kept across config versions). */
  readonly #denials = new RateLimitedLog();
  readonly #identity: WorkloadTlsSource | null;
  #unsubscribe: (() => void) | null = null;
  /** Set while a certificate rotation is planned: meshed clusters are rebuilt with the new certificate. */
  #rebuildMesh = false;
  readonly #store = new ConfigStore();
  readonly counters: BuildCounters = { routeTables: 0, clusters: 0, balancers: 0, snapshots: 0 };
  #settings: ProxySettings;
  #upstreams = new Map<string, UpstreamCluster>();
  #tables = new Map<string, RouteTable>();
  #serviceTables = new Map<string, ServiceRouteTable>();
  #snapshots = new Map<string, ListenerSnapshot>();
  readonly #listeners = new Map<string, ProxyListener>();
  /** Removed or moved listeners still finishing their requests. */
  readonly #retiring = new Set<ProxyListener>();
  /** Bound address of each listener by name; updated in place as listeners come and go. */
  readonly addresses = new Map<string, AddressInfo>();
  #queue: Promise<unknown> = Promise.resolve();
  #lastRejection: ConfigRejection | null = null;
  #started = false;
  #inFlight = 0;
  #draining = false;
  #idleWaiters: (() => void)[] = [];

  /** What the pod's environment says about this proxy's workload (the config's telemetry.workload wins where it says something). */
  readonly #env: WorkloadEnv;
  /** Tracing and access logs; rebuilt only when their inputs change (the span queue survives other config changes). */
  #telemetry: RequestTelemetry | null = null;

  /**
   * Builds the runtime from a validated config (its listeners are bound by start()); `identity`: the workload certificate;
   * `sharedRateLimits`: in the ingress's worker processes, the rate-limit buckets they share (else each is this process's).
   */
  constructor(config: ProxyConfig, metrics: ProxyMetrics, identity: WorkloadTlsSource | null = null, env: WorkloadEnv = {}, sharedRateLimits: SharedBuckets | null = null) {
    this.#policy = new SkeinPolicyLayers(undefined, sharedRateLimits);
    this.metrics = metrics;
    this.#identity = identity;
    this.#env = env;
    const upserts = configResources(config);
    const staged = this.#store.stage({ version: config.version !== '0' ? config.version : resourceSetVersion(upserts), upserts, removals: [] });
    // Cannot happen for a config that parseProxyConfig accepted; said loudly if it ever does.
    if (!staged.ok) throw new Error(`config refused as resources: ${staged.error.map((r) => `${r.type}/${r.name} ${r.path}: ${r.message}`).join('; ')}`);
    const plan = this.#plan(staged.value);
    if (Array.isArray(plan)) throw new Error(`config refused: ${plan.map((r) => `${r.type}/${r.name} ${r.path}: ${r.message}`).join('; ')}`);
    this.#settings = plan.settings;
    this.#commit(plan, new Map());
    // A new certificate: meshed clusters are rebuilt with it (their pool keys change, so they get new pools; the old ones
    // finish their requests and close); connections already open keep the context they were made with.
    this.#unsubscribe = identity?.onRotate(() => void this.#rotate()) ?? null;
  }

  /** This workload's current certificate (null: none yet, or no mesh identity at all). */
  workloadTls(): WorkloadTls | null {
    return this.#identity?.current() ?? null;
  }

  /** Rebuilds the meshed clusters with the current certificate, through the apply queue (never during another apply). */
  #rotate(): Promise<void> {
    const run = this.#queue.then(() => {
      const staged = this.#store.stage({ version: this.#store.version, upserts: [], removals: [] });
      if (!staged.ok) return;
      this.#rebuildMesh = true;
      try {
        const plan = this.#plan(staged.value);
        if (!Array.isArray(plan)) this.#commit(plan, new Map());
      } finally {
        this.#rebuildMesh = false;
      }
    });
    this.#queue = run.catch((e: unknown) => log('error', 'certificate rotation could not rebuild the clusters', { error: String(e) }));
    return this.#queue as Promise<void>;
  }

  /** Binds every listener of the current config. */
  start(): Promise<void> {
    // Through the apply queue: an apply never runs while the listeners are being bound.
    const run = this.#queue.then(() => this.#start());
    this.#queue = run.catch(() => {});
    return run;
  }

  async #start(): Promise<void> {
    this.#started = true;
    const made: ProxyListener[] = [];
    try {
      for (const name of this.#snapshots.keys()) {
        const l = new ProxyListener(this.#listenerContext(name, null));
        made.push(l);
        this.addresses.set(name, await l.listen());
        this.#listeners.set(name, l);
      }
    } catch (e) {
      for (const l of made) l.destroy();
      this.#listeners.clear();
      this.addresses.clear();
      throw e;
    }
  }

  get settings(): ProxySettings {
    return this.#settings;
  }

  get version(): string {
    return this.#store.version;
  }

  get lastRejection(): ConfigRejection | null {
    return this.#lastRejection;
  }

  /** The running config as one document (listeners with their route tables' virtual hosts, clusters with their endpoints). */
  get config(): ProxyConfig {
    const all = this.#store.resources;
    const hosts = routeTableHosts(all);
    return {
      version: this.#store.version,
      ...this.#settings,
      listeners: byType(all, 'listener').map(({ value: { routeTable, ...l } }) => ({ ...l, virtualHosts: routeTable === null ? [] : (hosts.get(routeTable) ?? []) })),
      clusters: [...this.#upstreams.values()].map((c) => c.config),
    };
  }

  /** Every resource with its version (secrets without their PEM), and the last rejection with its reasons. */
  configDump(): Record<string, unknown> {
    const resources = [...this.#store.resources.values()].map((r) => ({
      type: r.type,
      name: r.name,
      version: r.version,
      config: r.type === 'secret' ? { certificateChain: r.value.certificateChain !== null, privateKey: r.value.privateKey !== null, trustBundle: r.value.trustBundle !== null } : r.value,
    }));
    return { version: this.#store.version, resources, lastRejection: this.#lastRejection, config: this.config };
  }

  /** The snapshot a listener serves now (tests and the admin endpoint). */
  snapshot(listener: string): ListenerSnapshot | undefined {
    return this.#snapshots.get(listener);
  }

  /** Replaces the whole config with this document's resources (a config file's reload). */
  apply(config: ProxyConfig): Promise<ApplyOutcome> {
    const upserts = configResources(config);
    const keep = new Set(upserts.map((u) => resourceKey(u)));
    const removals = [...this.#store.resources.values()].filter((r) => !keep.has(resourceKey(r))).map((r) => ({ type: r.type, name: r.name }));
    // A document without a version of its own is known by its content.
    return this.applyChangeSet({ version: config.version !== '0' ? config.version : resourceSetVersion(upserts), upserts, removals });
  }

  /** The one entry point for config changes: applies are serialized; each is taken whole or refused whole with every reason. */
  applyChangeSet(changes: ChangeSet): Promise<ApplyOutcome> {
    const run = this.#queue.then(() => this.#apply(changes));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #apply(changes: ChangeSet): Promise<ApplyOutcome> {
    let plan: Plan;
    try {
      const staged = this.#store.stage(changes);
      if (!staged.ok) return this.#reject(changes.version, staged.error);
      const p = this.#plan(staged.value);
      if (Array.isArray(p)) return this.#reject(changes.version, p);
      plan = p;
    } catch (e) {
      return this.#reject(changes.version, [{ type: '', name: '', path: '', message: `cannot build this config: ${(e as Error).message}` }]);
    }
    const bound = new Map<string, { listener: ProxyListener; address: AddressInfo; cell: { committed: boolean } }>();
    for (const name of plan.toBind) {
      const snap = plan.snapshots.get(name)!;
      const cell = { committed: false };
      let l: ProxyListener | null = null;
      try {
        l = new ProxyListener(this.#listenerContext(name, snap, cell));
        bound.set(name, { listener: l, address: await l.listen(snap.listener), cell });
      } catch (e) {
        l?.destroy();
        for (const b of bound.values()) b.listener.destroy();
        const err = e as NodeJS.ErrnoException;
        const at = `${snap.listener.address}:${snap.listener.port}`;
        return this.#reject(changes.version, [{ type: 'listener', name, path: 'port', message: `cannot listen on ${at}: ${err.code ?? err.message}` }]);
      }
    }
    this.#commit(plan, bound);
    return { ok: true };
  }

  /** A change refused before it reached the entry point (a config file that does not parse): shown and counted the same way. */
  recordRejection(version: string, reasons: readonly NackReason[]): void {
    this.#reject(version, reasons);
  }

  #reject(version: string, reasons: readonly NackReason[]): ApplyOutcome {
    this.#lastRejection = { version, at: new Date().toISOString(), reasons };
    this.metrics.configRejected(reasons[0]?.type ?? '');
    log('warn', 'config change rejected (the last good config keeps serving)', {
      version,
      reasons: reasons.map((r) => `${r.type}/${r.name}${r.path ? ` ${r.path}` : ''}: ${r.message}`).join('; '),
    });
    return { ok: false, reasons };
  }

  /** Builds what the staged set needs, reusing every object whose inputs did not change. */
  #plan(staged: StagedConfig): Plan | NackReason[] {
    const all = staged.resources;
    const changed = staged.changed;
    const settingsResource = byType(all, 'settings')[0]!;
    const settings = settingsResource.value;
    const endpointSets = new Map(byType(all, 'endpoint-set').map((e) => [e.name, e.value.endpoints]));

    const upstreams = new Map<string, UpstreamCluster>();
    const replaced = new Set<string>();
    const endpointUpdates: (readonly [UpstreamCluster, ClusterConfig])[] = [];
    const workloadTls = this.#identity?.current() ?? null;
    const clusterReasons: NackReason[] = [];
    for (const c of byType(all, 'cluster')) {
      const old = this.#upstreams.get(c.name);
      const meshRebuild = this.#rebuildMesh && c.value.meshTls != null;
      // A cluster originating TLS is rebuilt when a secret it trusts or presents changed.
      const tlsSecretsChanged = upstreamTlsSecrets(c.value.upstreamTls).some((n) => changed.has(`secret/${n}`));
      if (old !== undefined && !meshRebuild && !tlsSecretsChanged && !changed.has(`cluster/${c.name}`) && !changed.has(`endpoint-set/${c.name}`)) {
        upstreams.set(c.name, old);
        continue;
      }
      const eps = endpointSets.get(c.name);
      const effective: ClusterConfig = eps === undefined ? c.value : { ...c.value, endpoints: eps };
      if (old !== undefined && !meshRebuild && !tlsSecretsChanged && withoutEndpoints(old.config) === withoutEndpoints(effective)) {
        upstreams.set(c.name, old);
        if (JSON.stringify(old.config.endpoints) !== JSON.stringify(effective.endpoints)) endpointUpdates.push([old, effective]);
        continue;
      }
      let originated: OriginatedTls | null = null;
      if (effective.upstreamTls != null) {
        const secrets = new Map<string, SecretResource>();
        for (const n of upstreamTlsSecrets(effective.upstreamTls)) {
          const r = all.get(`secret/${n}`);
          if (r?.type === 'secret') secrets.set(n, r.value);
        }
        try {
          originated = buildOriginatedTls(effective.upstreamTls, effective.protocol, secrets);
        } catch (e) {
          // The whole change is refused: a cluster never runs with half of its trust anchors.
          clusterReasons.push({ type: 'cluster', name: c.name, path: 'upstreamTls', message: `cannot load the upstream TLS trust anchors or client certificate: ${(e as Error).message}` });
          continue;
        }
      }
      upstreams.set(c.name, new UpstreamCluster(effective, settings.limits, old ?? null, workloadTls, originated));
      this.counters.clusters++;
      replaced.add(c.name);
    }
    if (clusterReasons.length > 0) {
      // Nothing built here is used: the pools of the clusters made above hold no connection yet.
      for (const [name, u] of upstreams) if (this.#upstreams.get(name) !== u) u.close();
      return clusterReasons;
    }
    const retired: UpstreamCluster[] = [];
    for (const [name, c] of this.#upstreams) {
      if (upstreams.get(name) !== c) retired.push(c);
      if (!upstreams.has(name)) replaced.add(name);
    }
    // The snapshots' cluster map is replaced only when the set of cluster objects changed.
    const clusterMap = replaced.size === 0 && upstreams.size === this.#upstreams.size ? this.#upstreams : upstreams;

    const tables = new Map<string, RouteTable>();
    const rebuilt = new Set<string>();
    const hostsOf = routeTableHosts(all);
    const hostsChanged = tablesOfChangedHosts(changed, this.#store.resources, all);
    const refersToReplaced = (vh: VirtualHostConfig): boolean => replaced.size > 0 && vh.routes.some((r) => r.backends.some((b) => replaced.has(b.cluster)) || r.mirrors.some((m) => replaced.has(m.cluster)));
    // Route stacks hold their listener's layers too (its rate limit, its edge policies): a table served by a changed
    // listener compiles every virtual host anew.
    const listenerChanged = new Set<string>();
    for (const k of changed) {
      if (!k.startsWith('listener/')) continue;
      for (const r of [this.#store.resources.get(k), all.get(k)]) if (r?.type === 'listener' && r.value.routeTable !== null) listenerChanged.add(r.value.routeTable);
    }
    for (const t of byType(all, 'route-table')) {
      const old = this.#tables.get(t.name);
      const hosts = hostsOf.get(t.name)!;
      // Rebuilt when a cluster it names was replaced too: route stacks hold their mirrors' cluster objects.
      // Kept whole only when nothing it was compiled with changed, its listener included (route stacks hold its layers).
      if (old !== undefined && !changed.has(`route-table/${t.name}`) && !hostsChanged.has(t.name) && !listenerChanged.has(t.name) && !hosts.some(refersToReplaced)) tables.set(t.name, old);
      else {
        // Virtual hosts whose config object and clusters are unchanged keep their compiled routes (and so their stacks):
        // a change to one Service's routes compiles that Service's alone.
        const reuse = old === undefined || listenerChanged.has(t.name) ? undefined : (vh: VirtualHostConfig) => (refersToReplaced(vh) ? undefined : old.compiledFor(vh));
        tables.set(t.name, new RouteTable(hosts, reuse));
        this.counters.routeTables++;
        rebuilt.add(t.name);
      }
    }

    const vipsByTable = new Map<string, Extract<StoredResource, { type: 'outbound-vips' }>[]>();
    for (const v of byType(all, 'outbound-vips')) {
      let list = vipsByTable.get(v.value.routeTable);
      if (list === undefined) vipsByTable.set(v.value.routeTable, (list = []));
      list.push(v);
    }
    const serviceTables = new Map<string, ServiceRouteTable>();
    for (const [tableName, list] of vipsByTable) {
      const old = this.#serviceTables.get(tableName);
      if (old !== undefined && !rebuilt.has(tableName) && list.every((v) => !changed.has(`outbound-vips/${v.name}`)) && !this.#vipsRemoved(changed, all)) {
        serviceTables.set(tableName, old);
        continue;
      }
      const table = tables.get(tableName)!;
      const entries = list.flatMap((v) => v.value.vips.map((vip) => ({ name: vip.virtualHost, addresses: [vip.address], ports: [vip.port], routes: table.forVirtualHost(vip.virtualHost)! })));
      serviceTables.set(tableName, new ServiceRouteTable(entries));
    }

    const needsOriginalDst = [...upstreams.values()].some((c) => c.config.type === 'original-destination');
    const snapshots = new Map<string, ListenerSnapshot>();
    const toBind: string[] = [];
    const tlsReload: string[] = [];
    const reasons: NackReason[] = [];
    for (const l of byType(all, 'listener')) {
      const { routeTable, ...rest } = l.value;
      const routes = routeTable === null ? EMPTY_TABLE : tables.get(routeTable)!;
      const serviceRoutes = routeTable !== null && rest.direction === 'outbound' ? (serviceTables.get(routeTable) ?? null) : null;
      const old = this.#snapshots.get(l.name);
      const secretNames = listenerSecrets(rest.tls);
      const tlsSecrets = new Map<string, SecretResource>();
      for (const n of secretNames) {
        const r = all.get(`secret/${n}`);
        if (r?.type === 'secret') tlsSecrets.set(n, r.value);
      }
      const secretsChanged = secretNames.some((n) => changed.has(`secret/${n}`));
      if (
        old !== undefined &&
        !changed.has(`listener/${l.name}`) &&
        !secretsChanged &&
        old.routes === routes &&
        (old.serviceRoutes ?? null) === serviceRoutes &&
        old.clusters === clusterMap &&
        old.needsOriginalDst === needsOriginalDst
      ) {
        snapshots.set(l.name, old);
        continue;
      }
      const listener: ListenerConfig = { ...rest, virtualHosts: routeTable === null ? [] : hostsOf.get(routeTable)! };
      // The same policy keeps its checks (the same functions tell the listener that open TCP connections need no recheck).
      const sameAuthz = old !== undefined && JSON.stringify(old.listener.authorization ?? null) === JSON.stringify(listener.authorization ?? null);
      const authz = sameAuthz || !listener.authorization ? null : buildAuthorizer(listener.authorization, l.name, identityMetrics(this.metrics.registry), this.#denials);
      const authorize = sameAuthz ? (old.authorize ?? null) : (authz?.request ?? null);
      const authorizeConnection = sameAuthz ? (old.authorizeConnection ?? null) : (authz?.connection ?? null);
      snapshots.set(l.name, { mode: settings.mode, listener, limits: settings.limits, routes, serviceRoutes, clusters: clusterMap, needsOriginalDst, authorize, authorizeConnection, ...(secretNames.length > 0 ? { tlsSecrets } : {}) });
      this.counters.snapshots++;
      const running = this.#listeners.get(l.name);
      const was = old?.listener;
      // Before start() nothing is bound: start() binds whatever the config holds then.
      if (!this.#started) continue;
      if (running === undefined || was === undefined || was.address !== listener.address || was.port !== listener.port) toBind.push(l.name);
      else if (secretsChanged || JSON.stringify(was.tls) !== JSON.stringify(listener.tls)) tlsReload.push(l.name);
      if (listener.tls !== null && (toBind.at(-1) === l.name || tlsReload.at(-1) === l.name)) {
        try {
          // Every certificate, as the listener will load them: a bad one refuses the change, never half of it.
          new ServerTlsContexts(listener.tls, tlsSecrets);
        } catch (e) {
          reasons.push({ type: 'listener', name: l.name, path: 'tls', message: `cannot load the certificates, keys and client CAs: ${(e as Error).message}` });
        }
      }
    }
    if (reasons.length > 0) return reasons;
    const toRetire = [...this.#listeners.keys()].filter((n) => !snapshots.has(n) || toBind.includes(n));
    return { staged, settings, upstreams: clusterMap, retired, endpointUpdates, tables, serviceTables, snapshots, toBind, toRetire, tlsReload };
  }

  #vipsRemoved(changed: ReadonlySet<string>, all: ReadonlyMap<string, StoredResource>): boolean {
    for (const k of changed) if (k.startsWith('outbound-vips/') && !all.has(k)) return true;
    return false;
  }

  /** Swaps the plan in. Synchronous: no request sees half of it. */
  #commit(plan: Plan, bound: ReadonlyMap<string, { listener: ProxyListener; address: AddressInfo; cell: { committed: boolean } }>): void {
    for (const [cluster, config] of plan.endpointUpdates) {
      cluster.setEndpoints(config);
      this.counters.balancers++;
    }
    this.#upstreams = plan.upstreams;
    this.#tables = plan.tables;
    this.#serviceTables = plan.serviceTables;
    const before = this.#snapshots;
    this.#snapshots = plan.snapshots;
    this.#store.commit(plan.staged);
    for (const c of plan.retired) c.retire(plan.upstreams.get(c.name) ?? null);
    for (const name of plan.toRetire) {
      const l = this.#listeners.get(name);
      this.#listeners.delete(name);
      this.addresses.delete(name);
      if (l !== undefined) this.#retireListener(l);
    }
    for (const [name, b] of bound) {
      b.cell.committed = true;
      this.#listeners.set(name, b.listener);
      this.addresses.set(name, b.address);
      log('info', 'listening', { listener: name, address: `${b.address.address}:${b.address.port}` });
    }
    for (const name of plan.tlsReload) {
      try {
        this.#listeners.get(name)?.reloadTls();
      } catch (e) {
        log('error', 'listener TLS reload failed (the previous certificate keeps serving)', { listener: name, error: (e as Error).message });
      }
    }
    // A listener kept in place judges its open connections again where the change concerns them (a port turned strict, a
    // policy that no longer allows an open TCP connection).
    for (const [name, l] of this.#listeners) {
      const was = before.get(name);
      if (was !== undefined && !bound.has(name) && was !== plan.snapshots.get(name)) l.configChanged(was);
    }
    this.#applyTelemetry(plan.settings);
    this.metrics.configApplied(plan.staged.version);
  }

  /** Own workload labels, tracing and access logs from the settings; the tracer and its queue are kept while unchanged. */
  #applyTelemetry(settings: ProxySettings): void {
    const self = ownWorkload(settings.telemetry.workload, this.#env);
    this.metrics.setWorkload(self);
    const telemetry = requestTelemetry(settings.telemetry, self, { metrics: this.metrics, accessLogAnnotation: this.#env.accessLog ?? false, node: settings.node });
    if (this.#telemetry === null || this.#telemetry.key !== telemetry.key) {
      this.#telemetry?.close();
      this.#telemetry = telemetry;
    } else {
      telemetry.close();
    }
  }

  /** The stack hooks of the current config (read when a snapshot's stack is built). */
  get hooks(): StackHooks | undefined {
    return this.#telemetry?.hooks ?? undefined;
  }

  /** Sends the spans still queued (on drain, and in tests); resolves when that export is done or failed. */
  async flushTelemetry(): Promise<void> {
    await this.#telemetry?.batcher?.flush();
  }

  /** A removed listener stops accepting at once; its connections finish their requests, then close (at the latest after the drain timeout). */
  #retireListener(l: ProxyListener): void {
    this.#retiring.add(l);
    l.startDrain();
    log('info', 'listener removed: draining', { listener: l.name });
    const sweep = setInterval(() => l.closeIdle(), REMOVED_LISTENER_SWEEP_MS);
    sweep.unref();
    const stop = setTimeout(() => {
      clearInterval(sweep);
      l.destroy();
      this.#retiring.delete(l);
    }, this.#settings.drainTimeoutMs);
    stop.unref();
  }

  /**
   * A listener's view of the runtime. `staged` (with its cell) is the snapshot a listener being bound by an apply serves
   * until that apply commits; after that, the current snapshot of its name (or the last one it had, once removed).
   */
  #listenerContext(name: string, staged: ListenerSnapshot | null, cell: { committed: boolean } = { committed: true }): ListenerContext {
    let last = staged ?? this.#snapshots.get(name)!;
    const hooks = (): StackHooks | undefined => this.hooks;
    return {
      get hooks() {
        return hooks();
      },
      snapshot: () => {
        if (!cell.committed) return last;
        const s = this.#snapshots.get(name);
        if (s !== undefined) last = s;
        return last;
      },
      metrics: this.metrics,
      policy: this.#policy,
      workloadTls: () => this.#identity?.current() ?? null,
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

  /** Every listener stops accepting (SIGTERM). */
  startDrain(): void {
    this.#draining = true;
    for (const l of this.#listeners.values()) l.startDrain();
  }

  /** Called periodically while draining: closes HTTP/1 connections that became idle. */
  closeIdle(): void {
    for (const l of this.#listeners.values()) l.closeIdle();
  }

  /** Resolves when no request is in flight. */
  whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  close(): void {
    this.#telemetry?.close();
    this.#unsubscribe?.();
    for (const l of this.#listeners.values()) l.destroy();
    for (const l of this.#retiring) l.destroy();
    this.#retiring.clear();
    for (const c of this.#upstreams.values()) c.close();
  }
}
