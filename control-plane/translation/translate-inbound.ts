// Translation of one sidecar's inbound side (pure): its pod and the resolved inbound policies in, the `listener/inbound`
// resource out, carrying the workload's mTLS mode and authorization over the bootstrap's socket and routing.
import type { V1Pod } from '@kubernetes/client-node';
import { SIDECAR_INBOUND_CLUSTER, SIDECAR_INBOUND_LISTENER, sidecarInboundAppCluster, sidecarInboundListener } from '../../api/mesh/sidecar-inbound.ts';
import type { ResourceBody } from '../serving/proxy-snapshot.ts';
import type { InboundPolicies } from './inbound-policies.ts';
import type { TranslationProblem } from './translate-proxy.ts';

export const LISTENER_RESOURCE = 'listener';
export const CLUSTER_RESOURCE = 'cluster';

/**
 * `h2cPorts`: the pod's ports whose Service port says `appProtocol: kubernetes.io/h2c` (h2c-ports.ts). The inbound cluster
 * is always sent, with or without them, so that a port that stops being h2c goes back to HTTP/1.1.
 */
export function translateInbound(policies: InboundPolicies, pod: V1Pod, h2cPorts: readonly number[] = []): { resources: ResourceBody[]; problems: TranslationProblem[] } {
  const w = policies.forPod(pod);
  const object = `Pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  return {
    resources: [
      // The bootstrap's route table of the same name keeps routing everything to the app.
      { type: LISTENER_RESOURCE, name: SIDECAR_INBOUND_LISTENER, body: { ...sidecarInboundListener(w.mtls, w.authorization), routeTable: SIDECAR_INBOUND_LISTENER } },
      { type: CLUSTER_RESOURCE, name: SIDECAR_INBOUND_CLUSTER, body: sidecarInboundAppCluster(h2cPorts) },
    ],
    problems: w.problems.map((message) => ({ object, message })),
  };
}
