// Translation of one sidecar's inbound side (pure): its pod and the resolved inbound policies in, the `listener/inbound`
// resource out, carrying the workload's mTLS mode and authorization over the bootstrap's socket and routing.
import type { V1Pod } from '@kubernetes/client-node';
import { SIDECAR_INBOUND_LISTENER, sidecarInboundListener } from '../../api/mesh/sidecar-inbound.ts';
import type { ResourceBody } from '../serving/proxy-snapshot.ts';
import type { InboundPolicies } from './inbound-policies.ts';
import type { TranslationProblem } from './translate-proxy.ts';

export const LISTENER_RESOURCE = 'listener';

export function translateInbound(policies: InboundPolicies, pod: V1Pod): { resource: ResourceBody; problems: TranslationProblem[] } {
  const w = policies.forPod(pod);
  const object = `Pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  return {
    // The bootstrap's route table of the same name keeps routing everything to the app.
    resource: { type: LISTENER_RESOURCE, name: SIDECAR_INBOUND_LISTENER, body: { ...sidecarInboundListener(w.mtls, w.authorization), routeTable: SIDECAR_INBOUND_LISTENER } },
    problems: w.problems.map((message) => ({ object, message })),
  };
}
