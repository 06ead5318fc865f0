// The CORS layer (Gateway API v1.5's HTTPRoute CORS filter): answers preflights itself and decorates the actual responses.
import type { CorsConfig } from '../../api/config/edge-policy-config.ts';
import { ProxyError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import { headerString } from '../stack/request-target.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import { ProxyResponse } from '../stack/proxy-response.ts';
import type { Layer } from '../stack/service.ts';

interface OriginPattern {
  readonly scheme: string;
  /** Exact host, or the suffix (`.example.com`) of a `*.` pattern. */
  readonly host: string;
  readonly wildcard: boolean;
  readonly port: string;
}

function splitOrigin(origin: string): OriginPattern | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(\*\.)?([^/:]+|\[[^\]]+\])(?::([0-9]{1,5}))?$/.exec(origin.toLowerCase());
  if (!m) return null;
  return { scheme: m[1]!, wildcard: m[2] !== undefined, host: m[2] !== undefined ? `.${m[3]!}` : m[3]!, port: m[4] ?? '' };
}

/** The compiled CORS filter (built once per config). */
export class CorsPolicy {
  readonly #anyOrigin: boolean;
  readonly #exact: ReadonlySet<string>;
  readonly #wildcards: readonly OriginPattern[];
  readonly #credentials: boolean;
  readonly #anyMethod: boolean;
  readonly #methods: string;
  readonly #anyHeader: boolean;
  readonly #headers: string;
  readonly #expose: string;
  readonly #maxAge: string;

  constructor(c: CorsConfig) {
    this.#anyOrigin = c.allowOrigins.includes('*');
    this.#exact = new Set(c.allowOrigins.filter((o) => o !== '*' && !o.includes('://*.')));
    this.#wildcards = c.allowOrigins.filter((o) => o.includes('://*.')).flatMap((o) => splitOrigin(o) ?? []);
    this.#credentials = c.allowCredentials;
    this.#anyMethod = c.allowMethods.includes('*');
    this.#methods = c.allowMethods.filter((m) => m !== '*').join(', ');
    this.#anyHeader = c.allowHeaders.includes('*');
    this.#headers = c.allowHeaders.filter((h) => h !== '*').join(', ');
    // The wildcard means nothing to a browser on a credentialed request (Fetch standard): then only the names count.
    this.#expose = (c.allowCredentials ? c.exposeHeaders.filter((h) => h !== '*') : c.exposeHeaders).join(', ');
    this.#maxAge = c.maxAge > 0 ? String(c.maxAge) : '';
  }

  allowsOrigin(origin: string): boolean {
    if (this.#anyOrigin) return true;
    const o = origin.toLowerCase();
    if (this.#exact.has(o)) return true;
    if (this.#wildcards.length === 0) return false;
    const p = splitOrigin(o);
    if (p === null || p.wildcard) return false;
    for (const w of this.#wildcards) {
      // `*.example.com` is any subdomain, never the apex itself.
      if (w.scheme === p.scheme && w.port === p.port && p.host.endsWith(w.host) && p.host.length > w.host.length) return true;
    }
    return false;
  }

  /** Headers every CORS answer to an allowed `origin` carries. */
  #common(h: HeaderBag, origin: string): void {
    if (this.#anyOrigin && !this.#credentials) h['access-control-allow-origin'] = '*';
    else {
      h['access-control-allow-origin'] = origin;
      appendVary(h);
    }
    if (this.#credentials) h['access-control-allow-credentials'] = 'true';
  }

  /** The answer to a preflight (200, no body); without CORS headers when the origin is not allowed. */
  preflight(req: ProxyRequest, origin: string): ProxyResponse {
    const h: HeaderBag = Object.create(null);
    h['content-length'] = '0';
    if (this.allowsOrigin(origin)) {
      this.#common(h, origin);
      const method = headerString(req.clientHeaders['access-control-request-method']) ?? '';
      const methods = this.#anyMethod ? (this.#credentials ? method : '*') : this.#methods;
      if (methods !== '') h['access-control-allow-methods'] = methods;
      const asked = headerString(req.clientHeaders['access-control-request-headers']);
      const headers = this.#anyHeader ? (this.#credentials ? (asked ?? '') : '*') : this.#headers;
      if (headers !== '') h['access-control-allow-headers'] = headers;
      if (this.#maxAge !== '') h['access-control-max-age'] = this.#maxAge;
      // Browsers read it on the actual response; the Gateway API (and its conformance suite) sends it on preflights too.
      if (this.#expose !== '') h['access-control-expose-headers'] = this.#expose;
    }
    return new ProxyResponse(200, h, null);
  }

  /** Decorates the headers of an actual response (or of the proxy's own error answer) to an allowed origin. */
  decorate(h: HeaderBag, origin: string): void {
    this.#common(h, origin);
    if (this.#expose !== '') h['access-control-expose-headers'] = this.#expose;
  }
}

function appendVary(h: HeaderBag): void {
  const v = h.vary;
  if (v === undefined) h.vary = 'Origin';
  else if (!/(^|,)\s*origin\s*(,|$)/i.test(String(v))) h.vary = `${String(v)}, Origin`;
}

export interface CorsCounters {
  preflights: number;
}

export function corsLayer(policy: CorsPolicy, counters: CorsCounters): Layer {
  return (inner) => (req) => {
    const origin = headerString(req.clientHeaders.origin);
    if (origin === undefined) return inner(req);
    if (req.method === 'OPTIONS' && req.clientHeaders['access-control-request-method'] !== undefined) {
      counters.preflights++;
      return Promise.resolve(policy.preflight(req, origin));
    }
    if (!policy.allowsOrigin(origin)) return inner(req);
    return inner(req).then(
      (res) => {
        policy.decorate(res.headers, origin);
        return res;
      },
      (e: unknown) => {
        // The proxy's own answers (a 401, a 429) must be readable by the page too, or it cannot tell what happened.
        if (!(e instanceof ProxyError)) throw e;
        const h: HeaderBag = Object.create(null);
        if (e.headers !== null) Object.assign(h, e.headers);
        policy.decorate(h, origin);
        throw new ProxyError(e.spec, undefined, { cause: e, headers: h as Record<string, string> });
      },
    );
  };
}
