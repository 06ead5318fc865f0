// Writes one status subresource through the API (PUT .../status with the resourceVersion read, so a write against a
// stale read is refused with 409 rather than overwriting someone else's change).
import * as k8s from '@kubernetes/client-node';
import { kubeErrorCode } from '../kube-error-code.ts';
import type { StatusUpdate } from './desired-status.ts';
import type { StatusWrite } from './status-writer.ts';

export function kubeStatusWrite(kc: k8s.KubeConfig): StatusWrite {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  return async (u: StatusUpdate) => {
    try {
      const body = { ...u.object, status: u.status };
      // Cluster-scoped kinds (GatewayClass) have no namespace.
      if (u.namespace === '') await api.replaceClusterCustomObjectStatus({ group: u.group, version: u.version, plural: u.plural, name: u.name, body });
      else await api.replaceNamespacedCustomObjectStatus({ group: u.group, version: u.version, namespace: u.namespace, plural: u.plural, name: u.name, body });
      return 'ok';
    } catch (e) {
      const c = kubeErrorCode(e);
      if (c === 409) return 'conflict';
      if (c === 404) return 'gone';
      throw e;
    }
  };
}
