// Compiles a route's edge policies (its own, else its listener's) into layers, in the documented order, with the state
// that must outlive a config version (JWKS caches) and the counters behind skein_policy_events_total.
import type { EdgePolicyConfig, JwksSourceConfig } from '../../api/config/edge-policy-config.ts';
import { log } from '../log.ts';
import type { PolicyEvent } from './policy-metrics.ts';
import type { RouteTarget } from '../stack/policy-slot.ts';
import type { Layer } from '../stack/service.ts';
import { CorsPolicy, corsLayer, type CorsCounters } from './cors.ts';
import { edgeHttpCall, type EdgeHttpCall } from './edge-http-client.ts';
import { extAuthzLayer, type ExtAuthzCounters } from './ext-authz.ts';
import { IpMatcher, ipFilterLayer, type IpFilterCounters } from './ip-filter.ts';
import { InlineKeys, RemoteKeys, type JwksEvents, type KeySource } from './jwks-cache.ts';
import { jwtAuthLayer, type JwtCounters } from './jwt-auth.ts';

type Jose = typeof import('jose');

interface EdgeCounters {
  readonly ip: IpFilterCounters;
  readonly cors: CorsCounters;
  readonly jwt: JwtCounters;
  readonly extAuthz: ExtAuthzCounters;
}

/** The effective policy of each kind for a route: the route's own, else the listener's. */
export function effectiveEdge(target: RouteTarget): EdgePolicyConfig {
  const r = target.route.config.edge;
  const l = target.listener.edge;
  return {
    ipFilter: r?.ipFilter ?? l?.ipFilter ?? null,
    cors: r?.cors ?? l?.cors ?? null,
    jwt: r?.jwt ?? l?.jwt ?? null,
    extAuthz: r?.extAuthz ?? l?.extAuthz ?? null,
  };
}

export class EdgePolicies {
  readonly #call: EdgeHttpCall;
  readonly #wallNow: () => number;
  readonly #counters = new Map<string, EdgeCounters>();
  /** One cache per JWKS source (same URL and settings): routes and config versions share it, and so its keys. */
  readonly #jwks = new Map<string, { source: Promise<KeySource>; events: JwksEvents; url: string }>();
  #jose: Promise<Jose> | null = null;

  /** `call` and `wallNow` are injected by tests; the proxy uses Node's fetch and Date.now. */
  constructor(call: EdgeHttpCall = edgeHttpCall, wallNow: () => number = Date.now) {
    this.#call = call;
    this.#wallNow = wallNow;
  }

  #countersOf(route: string): EdgeCounters {
    let c = this.#counters.get(route);
    if (c === undefined) {
      c = {
        ip: { denied: 0 },
        cors: { preflights: 0 },
        jwt: { missing: 0, invalid: 0, expired: 0, keysUnavailable: 0, claimSkipped: 0 },
        extAuthz: { allowed: 0, denied: 0, failedOpen: 0, failedClosed: 0 },
      };
      this.#counters.set(route, c);
    }
    return c;
  }

  // jose is loaded only by a proxy that verifies tokens (it is not small, and every sidecar would pay for it otherwise).
  #joseModule(): Promise<Jose> {
    return (this.#jose ??= import('jose'));
  }

  #keySource(jwks: JwksSourceConfig): Promise<KeySource> {
    const key = JSON.stringify(jwks);
    let k = this.#jwks.get(key);
    if (k === undefined) {
      const events: JwksEvents = { fetched: 0, fetchFailed: 0 };
      const url = jwks.type === 'remote' ? jwks.url : 'inline';
      const source = this.#joseModule().then((jose) =>
        jwks.type === 'inline'
          ? new InlineKeys(jose, jwks.keys)
          : new RemoteKeys(jwks, jose, this.#call, () => performance.now(), events, (reason) => log('warn', 'JWKS fetch failed (the last good keys keep serving)', { url, reason })),
      );
      // Not a rejection anyone awaits yet: the layer's await reports it per request.
      source.catch(() => {});
      k = { source, events, url };
      this.#jwks.set(key, k);
    }
    return k.source;
  }

  /** Pushes the route's edge layers (outermost first) onto `layers`. */
  layers(target: RouteTarget, layers: Layer[]): void {
    const edge = effectiveEdge(target);
    if (edge.ipFilter === null && edge.cors === null && edge.jwt === null && edge.extAuthz === null) return;
    const c = this.#countersOf(target.route.config.name);
    if (edge.ipFilter !== null) layers.push(ipFilterLayer(new IpMatcher(edge.ipFilter), target.listener.xffTrustedHops ?? 0, c.ip));
    if (edge.cors !== null) layers.push(corsLayer(new CorsPolicy(edge.cors), c.cors));
    if (edge.jwt !== null) layers.push(jwtAuthLayer(edge.jwt, this.#joseModule(), this.#keySource(edge.jwt.jwks), this.#wallNow, c.jwt));
    if (edge.extAuthz !== null) {
      const url = edge.extAuthz.url;
      const failOpen = edge.extAuthz.failOpen;
      layers.push(extAuthzLayer(edge.extAuthz, this.#call, c.extAuthz, (reason) => log('warn', 'external authorization failed', { url, reason, failOpen })));
    }
  }

  *events(): Iterable<PolicyEvent> {
    for (const [route, c] of this.#counters) {
      const t = `route:${route}`;
      yield [t, 'ip_denied', c.ip.denied];
      yield [t, 'cors_preflight', c.cors.preflights];
      yield [t, 'jwt_missing', c.jwt.missing];
      yield [t, 'jwt_invalid', c.jwt.invalid];
      yield [t, 'jwt_expired', c.jwt.expired];
      yield [t, 'jwks_unavailable', c.jwt.keysUnavailable];
      yield [t, 'jwt_claim_skipped', c.jwt.claimSkipped];
      yield [t, 'ext_authz_allowed', c.extAuthz.allowed];
      yield [t, 'ext_authz_denied', c.extAuthz.denied];
      yield [t, 'ext_authz_failed_open', c.extAuthz.failedOpen];
      yield [t, 'ext_authz_failed_closed', c.extAuthz.failedClosed];
    }
    for (const { events, url } of this.#jwks.values()) {
      yield [`jwks:${url}`, 'jwks_fetched', events.fetched];
      yield [`jwks:${url}`, 'jwks_fetch_failed', events.fetchFailed];
    }
  }
}
