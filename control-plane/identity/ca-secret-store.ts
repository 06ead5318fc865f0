// Where the CA's Secret is kept: read it, or create it if absent (never update, never overwrite). A fake for tests keeps the same contract.
import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { err, ok, type Result } from '../../api/result.ts';
import { kubeErrorCode } from '../kube-error-code.ts';
import { CA_SECRET_NAME, CA_SECRET_NAMESPACE, type CaSecretData } from './ca-material.ts';

/** A stored Secret: its data decoded to text and its resourceVersion (a change of it means the Secret was edited). */
export interface StoredCaSecret {
  readonly data: CaSecretData;
  readonly version: string;
}

export interface CaSecretStore {
  /** The Secret, or null when there is none. */
  read(): Promise<Result<StoredCaSecret | null, string>>;
  /** Creates the Secret; 'exists' when someone else created it first (HTTP 409), which is not an error. */
  create(data: CaSecretData): Promise<Result<'created' | 'exists', string>>;
}


export class KubernetesCaSecretStore implements CaSecretStore {
  readonly #api: CoreV1Api;
  readonly namespace: string;
  readonly name: string;

  constructor(api: CoreV1Api, namespace = CA_SECRET_NAMESPACE, name = CA_SECRET_NAME) {
    this.#api = api;
    this.namespace = namespace;
    this.name = name;
  }

  static async fromKubeConfig(kc: KubeConfig, namespace?: string, name?: string): Promise<KubernetesCaSecretStore> {
    const { CoreV1Api: Api } = await import('@kubernetes/client-node');
    return new KubernetesCaSecretStore(kc.makeApiClient(Api), namespace, name);
  }

  async read(): Promise<Result<StoredCaSecret | null, string>> {
    try {
      const s = await this.#api.readNamespacedSecret({ name: this.name, namespace: this.namespace });
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
      return ok({ data, version: s.metadata?.resourceVersion ?? '' });
    } catch (e) {
      if (kubeErrorCode(e) === 404) return ok(null);
      return err(`cannot read Secret ${this.namespace}/${this.name}: ${(e as Error).message}`);
    }
  }

  async create(data: CaSecretData): Promise<Result<'created' | 'exists', string>> {
    const encoded: Record<string, string> = {};
    for (const [k, v] of Object.entries(data)) encoded[k] = Buffer.from(v, 'utf8').toString('base64');
    try {
      await this.#api.createNamespacedSecret({
        namespace: this.namespace,
        body: {
          metadata: { name: this.name, namespace: this.namespace, labels: { 'app.kubernetes.io/part-of': 'skein', 'app.kubernetes.io/component': 'identity-ca' } },
          type: 'kubernetes.io/tls',
          data: encoded,
        },
      });
      return ok('created');
    } catch (e) {
      if (kubeErrorCode(e) === 409) return ok('exists');
      return err(`cannot create Secret ${this.namespace}/${this.name}: ${(e as Error).message}`);
    }
  }
}
