// The stack of one listener snapshot (authorize -> request span -> route -> ...), built once per snapshot, never per request.
import type { ListenerContext, ListenerSnapshot } from '../http/listener-context.ts';
import { clusterService } from './cluster-stack.ts';
import { NO_POLICY, type PolicyDeps } from './policy-slot.ts';
import { routeStage } from './route.ts';
import { stack, type Layer, type Service } from './service.ts';
import { authorizeLayer, spanLayer } from './stack-hooks.ts';

const stacks = new WeakMap<ListenerSnapshot, Service>();

export function listenerStack(snap: ListenerSnapshot, ctx: ListenerContext): Service {
  let s = stacks.get(snap);
  if (s === undefined) {
    const policy = ctx.policy ?? NO_POLICY;
    const span = ctx.hooks?.span ?? null;
    const deps: PolicyDeps = {
      now: () => performance.now(),
      random: Math.random,
      metrics: ctx.metrics,
      clusterService: (name) => {
        const c = snap.clusters.get(name);
        return c === undefined ? null : clusterService(c, policy, span, deps);
      },
    };
    const layers: Layer[] = [];
    const requestSpan = spanLayer(span, 'request');
    if (requestSpan !== null) layers.push(requestSpan);
    const authorize = authorizeLayer(snap.authorize ?? ctx.hooks?.authorize ?? null);
    if (authorize !== null) layers.push(authorize);
    s = stack(layers, routeStage(snap, ctx, deps));
    stacks.set(snap, s);
  }
  return s;
}
