// Follows the control plane's published trust bundle (ConfigMap skein-trust-bundle in skein-system) for new sidecars' environment.
import type { CoreV1Api } from '@kubernetes/client-node';
import { MESH_NAMESPACE, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from '../api/mesh/mesh-constants.ts';

export type TrustBundleReader = Pick<CoreV1Api, 'readNamespacedConfigMap'>;

/** The bundle the ConfigMap holds now: '' when there is none (404) or it has no usable PEM; a throw for any other failure. */
export async function readTrustBundle(api: TrustBundleReader): Promise<string> {
  try {
    const cm = await api.readNamespacedConfigMap({ name: TRUST_BUNDLE_CONFIGMAP, namespace: MESH_NAMESPACE });
    const pem = cm.data?.[TRUST_BUNDLE_KEY] ?? '';
    return pem.includes('-----BEGIN CERTIFICATE-----') ? pem : '';
  } catch (e) {
    if ((e as { code?: unknown }).code === 404) return '';
    throw e;
  }
}

/**
 * Reads the bundle now and every `intervalMs`, calling `onChange` with each new value (the first one included). A failed read
 * keeps the last value (a flaky API server must not strip identity from new pods). Returns the stop function.
 */
export function watchTrustBundle(api: TrustBundleReader, onChange: (pem: string) => void, log: (line: string) => void, intervalMs = 10_000): () => void {
  let last: string | null = null;
  let running = false;
  const tick = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const pem = await readTrustBundle(api);
      if (pem !== last) {
        last = pem;
        log(pem === '' ? 'injector: no mesh trust bundle published yet: new sidecars run without a workload certificate' : 'injector: mesh trust bundle loaded: new sidecars obtain workload certificates');
        onChange(pem);
      }
    } catch (e) {
      log(`injector: cannot read ${MESH_NAMESPACE}/${TRUST_BUNDLE_CONFIGMAP} (${(e as Error).message.split('\n')[0]}); keeping the last bundle`);
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
