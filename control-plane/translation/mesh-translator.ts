// Translation served to the gRPC layer: snapshots cached by a key over every input (the inputs' generation and the
// proxy's scope: a sidecar's namespaces, or the Gateway an ingress serves), so a thousand proxies of one namespace
// cost one translation per change.
import type { V1Pod } from '@kubernetes/client-node';
import { ok, type Result } from '../../api/result.ts';
import type { ControlPlaneError } from '../control-plane-error.ts';
import { makeSnapshot, wireResource } from '../serving/proxy-snapshot.ts';
import type { ProxyIdentity, ProxySnapshot, SnapshotSource } from '../serving/snapshot-source.ts';
import { resourceKey, type WireResource } from '../../api/proto/config-discovery.ts';
import { InboundPolicies, type InboundDefaults } from './inbound-policies.ts';
import type { MeshInputs, ProxyScope } from './mesh-inputs.ts';
import { h2cPortsByPod } from './h2c-ports.ts';
import { translateInbound } from './translate-inbound.ts';
import { translateIngress } from './translate-ingress.ts';
import { ServicePortMemo } from './service-port-memo.ts';
import { translateProxy, type TranslationProblem } from './translate-proxy.ts';

/** A sidecar's inbound side: where its pod is read, and the defaults of its mTLS mode and authorization. */
export interface InboundTranslation {
  /** A pure lookup in ingestion's store; undefined: not seen yet (the proxy keeps its bootstrap inbound listener). */
  readonly podOf: (proxy: ProxyIdentity) => V1Pod | undefined;
  readonly defaults: InboundDefaults;
}

export class MeshTranslator implements SnapshotSource {
  #inputs: MeshInputs = { services: [], endpointSlices: [], namespaces: [], trafficPolicies: [], httpRoutes: [], grpcRoutes: [] };
  #generation = 0;
  /** Outbound translations by scope; whole snapshots by scope and inbound listener version. */
  readonly #cache = new Map<string, { generation: number; snapshot: ProxySnapshot; problems: readonly TranslationProblem[] }>();
  readonly #snapshots = new Map<string, ProxySnapshot>();
  readonly #inboundProblems = new Map<string, readonly TranslationProblem[]>();
  #inboundPolicies: InboundPolicies | null = null;
  /** The pods' h2c ports of this generation (from the EndpointSlices), made when a sidecar first asks. */
  #h2cPorts: Map<string, readonly number[]> | null = null;
  readonly #inbound: InboundTranslation | null;
  readonly #scopeOf: (proxy: ProxyIdentity) => ProxyScope;
  translations = 0;

  readonly #source: (() => MeshInputs) | null;
  #stale = false;

  /**
   * `scopeOf` reads the proxy's pod (annotations) from ingestion's store; it must be a pure lookup. `source`, when given,
   * is read lazily after invalidate(): an informer callback only bumps the generation, the read happens at push time.
   */
  constructor(scopeOf: (proxy: ProxyIdentity) => ProxyScope, source: (() => MeshInputs) | null = null, inbound: InboundTranslation | null = null) {
    this.#scopeOf = scopeOf;
    this.#source = source;
    this.#inbound = inbound;
  }

  /** Each Service port's resources while its inputs stay the same: a change to one Service re-translates that one. */
  readonly #memo = new ServicePortMemo();
  /** Resource instances by key and version, this generation's and the last one's (see makeSnapshot's `intern`). */
  #wire = new Map<string, WireResource>();
  #lastWire = new Map<string, WireResource>();
  readonly #intern = (w: WireResource): WireResource => {
    const id = `${resourceKey(w)}@${w.version}`;
    const kept = this.#wire.get(id) ?? this.#lastWire.get(id) ?? w;
    this.#wire.set(id, kept);
    return kept;
  };

  #clear(): void {
    // Rotated only once used: a burst of invalidations between two translations must not forget the last generation.
    if (this.#wire.size > 0) {
      this.#lastWire = this.#wire;
      this.#wire = new Map();
    }
    this.#cache.clear();
    this.#snapshots.clear();
    this.#inboundProblems.clear();
    this.#inboundPolicies = null;
    this.#h2cPorts = null;
  }

  /** Something in the inputs changed (cheap: called from informer callbacks). */
  invalidate(): void {
    this.#stale = true;
    this.#generation++;
    this.#clear();
  }

  /** New inputs: every cached snapshot is stale (its key names the old generation). */
  setInputs(inputs: MeshInputs): void {
    this.#inputs = inputs;
    this.#generation++;
    // Entries of older generations can never be hit again.
    this.#clear();
  }

  /** The inbound defaults (the status writer resolves policies with the same ones); null without inbound translation. */
  get inboundDefaults(): InboundDefaults | null {
    return this.#inbound?.defaults ?? null;
  }

  get generation(): number {
    return this.#generation;
  }

  snapshotFor(proxy: ProxyIdentity): Result<ProxySnapshot, ControlPlaneError> {
    if (this.#stale && this.#source) {
      this.#inputs = this.#source();
      this.#stale = false;
    }
    if (proxy.mode === 'ingress') {
      // An ingress's resources depend only on the Gateways it serves.
      const key = `ingress|${proxy.gateway ?? ''}`;
      let hit = this.#cache.get(key);
      if (!hit || hit.generation !== this.#generation) {
        const t = translateIngress(this.#inputs, { gateway: proxy.gateway ? proxy.gateway : null });
        this.translations++;
        hit = { generation: this.#generation, snapshot: makeSnapshot(t.resources, this.#intern), problems: t.problems };
        this.#cache.set(key, hit);
      }
      return ok(hit.snapshot);
    }
    const scope = this.#scopeOf(proxy);
    const key = `${scope.namespace}|${scope.outboundNamespaces === null ? '*' : [...scope.outboundNamespaces].sort().join(',')}`;
    let outbound = this.#cache.get(key);
    if (!outbound || outbound.generation !== this.#generation) {
      const t = translateProxy(this.#inputs, scope, this.#memo);
      this.translations++;
      outbound = { generation: this.#generation, snapshot: makeSnapshot(t.resources, this.#intern), problems: t.problems };
      this.#cache.set(key, outbound);
    }
    const pod = this.#inbound !== null && proxy.mode === 'sidecar' ? this.#inbound.podOf(proxy) : undefined;
    if (pod === undefined) return ok(outbound.snapshot);
    this.#inboundPolicies ??= new InboundPolicies(this.#inputs, this.#inbound!.defaults);
    this.#h2cPorts ??= h2cPortsByPod(this.#inputs.endpointSlices);
    const inbound = translateInbound(this.#inboundPolicies, pod, this.#h2cPorts.get(`${pod.metadata?.namespace}/${pod.metadata?.name}`));
    this.#inboundProblems.set(`${proxy.namespace}/${proxy.podName}`, inbound.problems);
    const wires = inbound.resources.map((r) => this.#intern(wireResource(r)));
    // Workloads with the same inbound settings in one scope share one snapshot.
    const whole = `${key}|${wires.map((w) => w.version).join('|')}`;
    let snapshot = this.#snapshots.get(whole);
    if (snapshot === undefined) {
      snapshot = makeSnapshot([...outbound.snapshot.resources.values(), ...wires]);
      this.#snapshots.set(whole, snapshot);
    }
    return ok(snapshot);
  }

  /** Problems found in the inputs by the translations of this generation (for logs and the debug endpoint). */
  problems(): TranslationProblem[] {
    const seen = new Map<string, TranslationProblem>();
    for (const e of this.#cache.values()) for (const p of e.problems) seen.set(`${p.object}|${p.message}`, p);
    for (const ps of this.#inboundProblems.values()) for (const p of ps) seen.set(`${p.object}|${p.message}`, p);
    for (const p of this.#inboundPolicies?.problems ?? []) seen.set(`${p.object}|${p.message}`, p);
    return [...seen.values()];
  }
}
