// Publishes the mesh trust bundle (the CA's roots, no key) in a ConfigMap next to the CA Secret, so whoever sets up a proxy
// (the injector) can give it the roots it needs to verify the Certify server before it holds a certificate of its own.
//
// Why a ConfigMap: the roots are public, but the Secret also holds the CA key; nobody but the control plane reads that.
// Every replica publishes the same bytes; an update names the resourceVersion it read, so two replicas (or an old one
// during a rotation) never blindly overwrite each other, and a lost race is settled by the next periodic check.
import type { CoreV1Api } from '@kubernetes/client-node';
import { TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from '../../api/mesh/mesh-constants.ts';
import { err, ok, type Result } from '../../api/result.ts';
import { kubeErrorCode } from '../kube-error-code.ts';

// The names live in api/ because the injector reads the same ConfigMap.
export { TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY };

export interface StoredBundle {
  readonly bundlePem: string | null;
  readonly version: string;
}

/** Where the bundle is kept; a fake for tests keeps the same contract (409 on create when present, on replace when stale). */
export interface TrustBundleStore {
  read(): Promise<Result<StoredBundle | null, string>>;
  create(bundlePem: string): Promise<Result<'created' | 'conflict', string>>;
  replace(bundlePem: string, version: string): Promise<Result<'updated' | 'conflict', string>>;
}

export type PublishOutcome = 'unchanged' | 'created' | 'updated' | 'conflict';

/** Makes the stored bundle equal `bundlePem`: nothing when it already is, else one create or one conditional replace. */
export async function publishTrustBundle(store: TrustBundleStore, bundlePem: string): Promise<Result<PublishOutcome, string>> {
  const current = await store.read();
  if (!current.ok) return current;
  if (!current.value) return store.create(bundlePem);
  if (current.value.bundlePem === bundlePem) return ok('unchanged');
  return store.replace(bundlePem, current.value.version);
}


export class KubernetesTrustBundleStore implements TrustBundleStore {
  readonly #api: CoreV1Api;
  readonly #namespace: string;
  readonly #name: string;

  constructor(api: CoreV1Api, namespace: string, name = TRUST_BUNDLE_CONFIGMAP) {
    this.#api = api;
    this.#namespace = namespace;
    this.#name = name;
  }

  #body(bundlePem: string, version?: string) {
    return {
      metadata: { name: this.#name, namespace: this.#namespace, labels: { 'app.kubernetes.io/part-of': 'skein', 'app.kubernetes.io/component': 'identity-ca' }, ...(version ? { resourceVersion: version } : {}) },
      data: { [TRUST_BUNDLE_KEY]: bundlePem },
    };
  }

  async read(): Promise<Result<StoredBundle | null, string>> {
    try {
      const cm = await this.#api.readNamespacedConfigMap({ name: this.#name, namespace: this.#namespace });
      return ok({ bundlePem: cm.data?.[TRUST_BUNDLE_KEY] ?? null, version: cm.metadata?.resourceVersion ?? '' });
    } catch (e) {
      if (kubeErrorCode(e) === 404) return ok(null);
      return err(`cannot read ConfigMap ${this.#namespace}/${this.#name}: ${(e as Error).message}`);
    }
  }

  async create(bundlePem: string): Promise<Result<'created' | 'conflict', string>> {
    try {
      await this.#api.createNamespacedConfigMap({ namespace: this.#namespace, body: this.#body(bundlePem) });
      return ok('created');
    } catch (e) {
      if (kubeErrorCode(e) === 409) return ok('conflict');
      return err(`cannot create ConfigMap ${this.#namespace}/${this.#name}: ${(e as Error).message}`);
    }
  }

  async replace(bundlePem: string, version: string): Promise<Result<'updated' | 'conflict', string>> {
    try {
      await this.#api.replaceNamespacedConfigMap({ name: this.#name, namespace: this.#namespace, body: this.#body(bundlePem, version) });
      return ok('updated');
    } catch (e) {
      if (kubeErrorCode(e) === 409) return ok('conflict');
      return err(`cannot update ConfigMap ${this.#namespace}/${this.#name}: ${(e as Error).message}`);
    }
  }
}
