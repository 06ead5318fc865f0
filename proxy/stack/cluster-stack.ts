// The part of the stack below the route for one cluster: balance -> (attempt span) -> cluster policy layers -> endpoint.
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { balanceLayer } from './balance.ts';
import { endpointService } from './endpoint.ts';
import type { PolicyDeps, PolicyLayers } from './policy-slot.ts';
import { stack, type Layer, type Service } from './service.ts';
import { spanLayer, type SpanStarter } from './stack-hooks.ts';

const services = new WeakMap<UpstreamCluster, { readonly span: SpanStarter | null; readonly service: Service }>();

/** The cluster's service, built once per UpstreamCluster object (a rebuilt cluster gets a new one) and span hook. */
export function clusterService(cluster: UpstreamCluster, policy: PolicyLayers, span: SpanStarter | null, deps: PolicyDeps): Service {
  const entry = services.get(cluster);
  let s = entry !== undefined && entry.span === span ? entry.service : undefined;
  if (s === undefined) {
    const layers: Layer[] = [];
    const attemptSpan = spanLayer(span, 'attempt');
    if (attemptSpan !== null) layers.push(attemptSpan);
    layers.push(...policy.cluster({ cluster }, deps));
    s = balanceLayer(cluster)(stack(layers, endpointService(cluster)));
    services.set(cluster, { span, service: s });
  }
  return s;
}
