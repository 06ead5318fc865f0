// The stack of one listener snapshot (authorize -> route -> ...), built once per snapshot, never per request. The request's
// own span is serve's RequestObserver (it sees the body and trailers end); attempt spans sit below balance.
import type { ListenerContext, ListenerSnapshot } from '../http/listener-context.ts';
import { clusterService } from './cluster-stack.ts';
import { NO_POLICY, type PolicyDeps } from './policy-slot.ts';
import { routeStage } from './route.ts';
import { stack, type Layer, type Service } from './service.ts';
import { authorizeLayer } from './stack-hooks.ts';

// Keyed by snapshot, and rebuilt when the hooks change (telemetry reconfigured while the routes stayed the same).
const stacks = new WeakMap<ListenerSnapshot, { readonly hooks: ListenerContext['hooks']; readonly service: Service }>();

export function listenerStack(snap: ListenerSnapshot, ctx: ListenerContext): Service {
  const hooks = ctx.hooks;
  const entry = stacks.get(snap);
  let s = entry !== undefined && entry.hooks === hooks ? entry.service : undefined;
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
    const authorize = authorizeLayer(snap.authorize ?? ctx.hooks?.authorize ?? null);
    if (authorize !== null) layers.push(authorize);
    s = stack(layers, routeStage(snap, ctx, deps));
    stacks.set(snap, { hooks, service: s });
  }
  return s;
}
