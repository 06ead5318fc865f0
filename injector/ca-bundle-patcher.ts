// Writes the injector's CA into its MutatingWebhookConfiguration (every webhook entry's clientConfig.caBundle), and asks the
// API server whether it supports native sidecars.
import { AdmissionregistrationV1Api, type KubeConfig, VersionApi } from '@kubernetes/client-node';
import type { CaBundlePublisher } from './serving-cert-manager.ts';
import { mergeCaBundle } from './serving-cert.ts';

function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Read-modify-replace with the resourceVersion, retried on conflicts (another replica writing its CA at the same time).
 * The bundle keeps other replicas' CAs while they are valid, so several injector replicas can serve side by side.
 */
export function caBundlePublisher(kubeConfig: KubeConfig, webhookConfigName: string, log: (line: string) => void = () => {}): CaBundlePublisher {
  const api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  return async (caPems) => {
    for (let attempt = 1; ; attempt++) {
      const config = await api.readMutatingWebhookConfiguration({ name: webhookConfigName });
      const webhooks = config.webhooks ?? [];
      if (webhooks.length === 0) throw new Error(`MutatingWebhookConfiguration ${webhookConfigName} has no webhooks`);
      let changed = false;
      for (const w of webhooks) {
        const merged = mergeCaBundle(w.clientConfig.caBundle, caPems);
        if (w.clientConfig.caBundle !== merged) {
          w.clientConfig.caBundle = merged;
          changed = true;
        }
      }
      if (!changed) return;
      try {
        await api.replaceMutatingWebhookConfiguration({ name: webhookConfigName, body: config });
        log(`injector: wrote caBundle (${caPems.length} CA) into MutatingWebhookConfiguration ${webhookConfigName}`);
        return;
      } catch (e) {
        if (statusOf(e) === 409 && attempt < 5) continue;
        throw e;
      }
    }
  };
}

/** Native sidecars (init containers with restartPolicy Always) are on by default from Kubernetes 1.29. */
export async function clusterSupportsNativeSidecars(kubeConfig: KubeConfig): Promise<boolean> {
  const info = await kubeConfig.makeApiClient(VersionApi).getCode();
  return supportsNativeSidecars(info.major, info.minor);
}

export function supportsNativeSidecars(major: string, minor: string): boolean {
  const maj = Number.parseInt(major, 10);
  const min = Number.parseInt(minor, 10); // minor may read "29+" on some distributions
  return maj > 1 || (maj === 1 && min >= 29);
}
