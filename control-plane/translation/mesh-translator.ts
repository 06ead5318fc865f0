// Translation served to the gRPC layer: snapshots cached by a key over every input (the inputs' generation and the
// proxy's scope: a sidecar's namespaces, or the Gateway an ingress serves), so a thousand proxies of one namespace
// cost one translation per change.
import { ok, type Result } from '../../api/result.ts';
import type { ControlPlaneError } from '../control-plane-error.ts';
import { makeSnapshot } from '../serving/proxy-snapshot.ts';
import type { ProxyIdentity, ProxySnapshot, SnapshotSource } from '../serving/snapshot-source.ts';
import type { MeshInputs, ProxyScope } from './mesh-inputs.ts';
import { translateIngress } from './translate-ingress.ts';
import { translateProxy, type TranslationProblem } from './translate-proxy.ts';

export class MeshTranslator implements SnapshotSource {
  #inputs: MeshInputs = { services: [], endpointSlices: [], namespaces: [], trafficPolicies: [], httpRoutes: [], grpcRoutes: [] };
  #generation = 0;
  readonly #cache = new Map<string, { generation: number; snapshot: ProxySnapshot; problems: readonly TranslationProblem[] }>();
  readonly #scopeOf: (proxy: ProxyIdentity) => ProxyScope;
  translations = 0;

  readonly #source: (() => MeshInputs) | null;
  #stale = false;

  /**
   * `scopeOf` reads the proxy's pod (annotations) from ingestion's store; it must be a pure lookup. `source`, when given,
   * is read lazily after invalidate(): an informer callback only bumps the generation, the read happens at push time.
   */
  constructor(scopeOf: (proxy: ProxyIdentity) => ProxyScope, source: (() => MeshInputs) | null = null) {
    this.#scopeOf = scopeOf;
    this.#source = source;
  }

  /** Something in the inputs changed (cheap: called from informer callbacks). */
  invalidate(): void {
    this.#stale = true;
    this.#generation++;
    this.#cache.clear();
  }

  /** New inputs: every cached snapshot is stale (its key names the old generation). */
  setInputs(inputs: MeshInputs): void {
    this.#inputs = inputs;
    this.#generation++;
    // Entries of older generations can never be hit again.
    this.#cache.clear();
  }

  get generation(): number {
    return this.#generation;
  }

  snapshotFor(proxy: ProxyIdentity): Result<ProxySnapshot, ControlPlaneError> {
    if (this.#stale && this.#source) {
      this.#inputs = this.#source();
      this.#stale = false;
    }
    // An ingress's resources depend only on the Gateways it serves; a sidecar's on its namespace and outbound scope.
    const ingress = proxy.mode === 'ingress';
    const scope = ingress ? null : this.#scopeOf(proxy);
    const key = scope === null ? `ingress|${proxy.gateway ?? ''}` : `${scope.namespace}|${scope.outboundNamespaces === null ? '*' : [...scope.outboundNamespaces].sort().join(',')}`;
    const hit = this.#cache.get(key);
    if (hit && hit.generation === this.#generation) return ok(hit.snapshot);
    const t = scope === null ? translateIngress(this.#inputs, { gateway: proxy.gateway ? proxy.gateway : null }) : translateProxy(this.#inputs, scope);
    this.translations++;
    const snapshot = makeSnapshot(t.resources);
    this.#cache.set(key, { generation: this.#generation, snapshot, problems: t.problems });
    return ok(snapshot);
  }

  /** Problems found in the inputs by the translations of this generation (for logs and the debug endpoint). */
  problems(): TranslationProblem[] {
    const seen = new Map<string, TranslationProblem>();
    for (const e of this.#cache.values()) for (const p of e.problems) seen.set(`${p.object}|${p.message}`, p);
    return [...seen.values()];
  }
}
