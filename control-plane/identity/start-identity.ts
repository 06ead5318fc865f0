// Starts the identity service inside `skein control-plane`: CA bootstrap from its Secret, periodic reload, Certify over TLS.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { CaKeeper, type CaLog } from './ca-keeper.ts';
import { CA_SECRET_NAME, CA_SECRET_NAMESPACE } from './ca-material.ts';
import { KubernetesCaSecretStore } from './ca-secret-store.ts';
import { DEFAULT_LEAF_TTL_MS } from './certificate-authority.ts';
import { IdentityMetrics } from './identity-metrics.ts';
import { IdentityServer } from './identity-server.ts';
import { IdentityService } from './identity-service.ts';
import { KubernetesTokenReviewer, type TokenReviewer } from './token-reviewer.ts';
import { KubernetesTrustBundleStore } from './trust-bundle-publisher.ts';

export interface IdentityOptions {
  readonly address: string;
  readonly port: number;
  readonly trustDomain: string;
  /** Lifetime of workload leaves (24 h by default). */
  readonly leafTtlMs?: number;
  readonly caNamespace?: string;
  readonly caSecretName?: string;
  /** DNS names of the Certify server's own certificate (the control plane's Service by default). */
  readonly servingDnsNames?: readonly string[];
  /** How often the CA Secret is re-read (60 s by default). */
  readonly reloadIntervalMs?: number;
  /** Replaces the TokenReview client (tests). */
  readonly reviewer?: TokenReviewer;
}

export interface RunningIdentity {
  readonly port: number;
  readonly keeper: CaKeeper;
  stop(): Promise<void>;
}

export async function startIdentity(kc: KubeConfig, opts: IdentityOptions, registry: Registry, log: CaLog): Promise<RunningIdentity> {
  const metrics = new IdentityMetrics(registry);
  const store = await KubernetesCaSecretStore.fromKubeConfig(kc, opts.caNamespace ?? CA_SECRET_NAMESPACE, opts.caSecretName ?? CA_SECRET_NAME);
  const { CoreV1Api } = await import('@kubernetes/client-node');
  const bundleStore = new KubernetesTrustBundleStore(kc.makeApiClient(CoreV1Api), opts.caNamespace ?? CA_SECRET_NAMESPACE);
  const keeper = await CaKeeper.start({ store, bundleStore, trustDomain: opts.trustDomain, metrics, log, ...(opts.servingDnsNames ? { servingDnsNames: opts.servingDnsNames } : {}) });
  if (!keeper.ok) throw keeper.error;
  const k = keeper.value;
  const service = new IdentityService({
    trustDomain: opts.trustDomain,
    ca: () => k.current(),
    reviewer: opts.reviewer ?? (await KubernetesTokenReviewer.fromKubeConfig(kc)),
    leafTtlMs: opts.leafTtlMs ?? DEFAULT_LEAF_TTL_MS,
    metrics,
  });
  const server = new IdentityServer(service, log);
  const port = await server.listen(opts.address, opts.port, k.servingCredentials);
  const stopReload = k.every(opts.reloadIntervalMs);
  return {
    port,
    keeper: k,
    async stop() {
      stopReload();
      await server.close();
    },
  };
}
