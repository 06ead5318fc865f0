// Applies one per-Gateway Service change through the API (create, replace with the resourceVersion read, delete), with the
// same outcomes as a status write: a lost race (409: created or changed meanwhile) is retried by a later pass, 404 is gone.
import * as k8s from '@kubernetes/client-node';
import { kubeErrorCode } from '../kube-error-code.ts';
import type { ServiceChange } from '../translation/gateway-services.ts';
import type { StatusWrite } from './status-writer.ts';

export function kubeServiceWrite(kc: k8s.KubeConfig): StatusWrite<ServiceChange> {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  return async (c: ServiceChange) => {
    try {
      if (c.op === 'create') await api.createNamespacedService({ namespace: c.namespace, body: c.service });
      else if (c.op === 'replace') await api.replaceNamespacedService({ namespace: c.namespace, name: c.name, body: c.service });
      else await api.deleteNamespacedService({ namespace: c.namespace, name: c.name, body: { preconditions: { uid: c.service.metadata?.uid } } });
      return 'ok';
    } catch (e) {
      const n = kubeErrorCode(e);
      if (n === 409) return 'conflict';
      if (n === 404) return 'gone';
      throw e;
    }
  };
}
