// A Service's TrafficPolicy route-level sections (retries, timeouts, rate limit, fault, tracing) laid onto a proxy route: the one
// rule a sidecar's outbound route and an ingress route to that Service share.
import { isDeepStrictEqual } from 'node:util';
import type { RoutePolicyConfig } from '../../api/config/policy-config.ts';
import type { RouteConfig } from '../../api/config/proxy-config.ts';
import type { CompiledSections } from './traffic-policy-compile.ts';

/** The sections of a TrafficPolicy that live on the route (the rest live on the backend's cluster). */
export const ROUTE_SECTIONS = ['retries', 'timeouts', 'rateLimit', 'fault', 'tracing'] as const;
export type RouteSection = (typeof ROUTE_SECTIONS)[number];

/** A route without a TrafficPolicy: no retries, rate limit, fault or mirror. */
const NO_ROUTE_POLICY: RoutePolicyConfig = { retries: null, streamIdleTimeoutMs: 0, rateLimit: null, fault: null, mirrors: [] };

/** The route fields a Service port's TrafficPolicy sets (timeouts, retries, rate limit, fault, sampling); none without one. */
export function routePolicy(p: CompiledSections | null): RoutePolicyConfig & { timeoutMs: number } {
  if (p === null) return { timeoutMs: 0, ...NO_ROUTE_POLICY };
  return {
    timeoutMs: p.timeouts?.requestMs ?? 0,
    retries: p.retries ?? null,
    streamIdleTimeoutMs: p.timeouts?.streamIdleMs ?? 0,
    rateLimit: p.rateLimit ?? null,
    fault: p.fault ?? null,
    mirrors: [],
    // Only when the policy sets it, so a route without one keeps the mesh default (and its config stays as before).
    ...(p.tracing ? { tracing: { samplingPercent: p.tracing.samplingPercent } } : {}),
  };
}

/**
 * A route with its Service port's TrafficPolicy: retries, rate limit, fault and stream idle from the policy; the route's
 * own timeout (HTTPRoute timeouts) and retries (HTTPRoute retry) win over the policy's; a per-try timeout never exceeds
 * the route's timeout.
 */
export function withRoutePolicy(r: RouteConfig, p: CompiledSections | null): RouteConfig {
  if (p === null) return r;
  const fromPolicy = routePolicy(p);
  const timeoutMs = r.timeoutMs > 0 ? r.timeoutMs : fromPolicy.timeoutMs;
  const retries =
    r.retries ?? (fromPolicy.retries && timeoutMs > 0 && fromPolicy.retries.perTryTimeoutMs > timeoutMs ? { ...fromPolicy.retries, perTryTimeoutMs: timeoutMs } : fromPolicy.retries);
  const out: RouteConfig = { ...r, timeoutMs, retries, streamIdleTimeoutMs: fromPolicy.streamIdleTimeoutMs, rateLimit: fromPolicy.rateLimit, fault: fromPolicy.fault };
  return fromPolicy.tracing ? { ...out, tracing: fromPolicy.tracing } : out;
}

/** The route-level policy several backends share, and the sections they disagree on. */
export interface SharedRoutePolicy {
  readonly sections: CompiledSections | null;
  readonly differing: readonly RouteSection[];
}

/**
 * The route-level sections of the backends' policies that every backend agrees on (the same value, or all unset); a
 * section on which they differ is left off, so that no backend gets a retry, timeout, rate limit or fault its own
 * policy does not ask for. One backend: its policy's route sections whole. No backend: nothing.
 */
export function sharedRoutePolicy(policies: readonly (CompiledSections | null)[]): SharedRoutePolicy {
  if (policies.length === 0) return { sections: null, differing: [] };
  const sections: { -readonly [K in RouteSection]?: CompiledSections[K] } = {};
  const differing: RouteSection[] = [];
  for (const s of ROUTE_SECTIONS) {
    const first = policies[0]?.[s];
    if (!policies.every((p) => isDeepStrictEqual(p?.[s], first))) differing.push(s);
    else if (first !== undefined) (sections as Record<string, unknown>)[s] = first;
  }
  return { sections: Object.keys(sections).length > 0 ? sections : null, differing };
}
