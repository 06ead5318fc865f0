// The JWT authentication layer: a bearer token verified with jose (signature, issuer, audience, exp/nbf with clock skew),
// claims copied to request headers; 401 with www-authenticate (gRPC UNAUTHENTICATED) through the error catalogue.
import type { JWTPayload, JWTVerifyOptions } from 'jose';
import type { JwtAuthConfig } from '../../api/config/edge-policy-config.ts';
import { ERRORS, ProxyError, type ProxyErrorSpec } from '../errors/proxy-error.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import type { ProxyResponse } from '../stack/proxy-response.ts';
import type { Layer, Service } from '../stack/service.ts';
import type { KeyGetter, KeySource } from './jwks-cache.ts';

type Jose = typeof import('jose');

export interface JwtCounters {
  missing: number;
  invalid: number;
  expired: number;
  keysUnavailable: number;
  /** A claim that could not be put in a header (control characters, too long): the header is left out. */
  claimSkipped: number;
}

// RFC 6750 section 3: a request without credentials gets the bare challenge; a bad token gets invalid_token.
const MISSING = new ProxyError(ERRORS.jwtMissing, undefined, { headers: { 'www-authenticate': 'Bearer' } });
const EXPIRED = challenge(ERRORS.jwtExpired, 'the token has expired');
const INVALID = challenge(ERRORS.jwtInvalid, 'the token is not valid');
const UNAVAILABLE = new ProxyError(ERRORS.jwksUnavailable);
const CLAIM_ERRORS = new Map<string, ProxyError>();

function challenge(spec: ProxyErrorSpec, description: string): ProxyError {
  return new ProxyError(spec, description, { headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${description}"` } });
}

function claimError(claim: string): ProxyError {
  let e = CLAIM_ERRORS.get(claim);
  if (e === undefined) {
    e = challenge(ERRORS.jwtInvalid, `unexpected ${claim.replace(/[^a-z]/gi, '')} claim`);
    if (CLAIM_ERRORS.size < 32) CLAIM_ERRORS.set(claim, e);
  }
  return e;
}

const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const HEADER_SAFE = /^[\x20-\x7e\x80-\uffff\t]*$/;
const MAX_CLAIM_HEADER = 8192;

/** The bearer token of the request: a string, null when there is none, or INVALID when the header is malformed. */
function bearer(req: ProxyRequest): string | null | ProxyError {
  const auth = req.clientHeaders.authorization;
  if (auth === undefined) return null;
  if (typeof auth !== 'string') return INVALID; // several Authorization headers: ambiguous
  if (auth.length < 7 || auth.slice(0, 7).toLowerCase() !== 'bearer ') return null; // another scheme: no bearer token
  const token = auth.slice(7).trim();
  return TOKEN.test(token) ? token : INVALID;
}

function claimValue(payload: JWTPayload, path: string): string | undefined {
  let v: unknown = payload;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
  return v === undefined || v === null ? undefined : JSON.stringify(v);
}

function classify(e: unknown): ProxyError {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ERR_JWT_EXPIRED') return EXPIRED;
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return claimError(String((e as { claim?: unknown }).claim ?? ''));
  return INVALID;
}

class JwtAuth {
  readonly #config: JwtAuthConfig;
  readonly #jose: Promise<Jose>;
  readonly #keys: Promise<KeySource>;
  readonly #wallNow: () => number;
  readonly #counters: JwtCounters;
  readonly #inner: Service;
  readonly #claimHeaders: readonly string[];

  constructor(config: JwtAuthConfig, jose: Promise<Jose>, keys: Promise<KeySource>, wallNow: () => number, counters: JwtCounters, inner: Service) {
    this.#config = config;
    this.#jose = jose;
    this.#keys = keys;
    this.#wallNow = wallNow;
    this.#counters = counters;
    this.#inner = inner;
    this.#claimHeaders = config.claimHeaders.map((c) => c.header);
  }

  readonly serve = async (req: ProxyRequest): Promise<ProxyResponse> => {
    // Whatever happens next, a client never gets to choose the values of the claim headers.
    for (const h of this.#claimHeaders) delete req.headers[h];
    const token = bearer(req);
    if (token === null) {
      if (this.#config.required) {
        this.#counters.missing++;
        throw MISSING;
      }
      return this.#inner(req);
    }
    if (token instanceof ProxyError) {
      this.#counters.invalid++;
      throw token;
    }
    const payload = await this.#verify(token);
    const c = this.#config;
    for (const { claim, header } of c.claimHeaders) {
      const v = claimValue(payload, claim);
      if (v === undefined) continue;
      if (v.length > MAX_CLAIM_HEADER || !HEADER_SAFE.test(v)) {
        this.#counters.claimSkipped++;
        continue;
      }
      req.headers[header] = v;
    }
    if (!c.forwardToken) delete req.headers.authorization;
    return this.#inner(req);
  };

  async #verify(token: string): Promise<JWTPayload> {
    const [jose, source] = await Promise.all([this.#jose, this.#keys]);
    let keys: KeyGetter | null = source.current();
    if (keys === null) keys = await source.refresh();
    if (keys === null) {
      this.#counters.keysUnavailable++;
      throw UNAVAILABLE;
    }
    try {
      return await this.#check(jose, token, keys);
    } catch (e) {
      // A key rotated at the issuer: fetch the set again (shared, rate limited) and try once more with what it brings.
      if ((e as { code?: unknown }).code === 'ERR_JWKS_NO_MATCHING_KEY') {
        const again = await source.refresh();
        if (again !== null && again !== keys) {
          try {
            return await this.#check(jose, token, again);
          } catch (e2) {
            throw this.#count(classify(e2));
          }
        }
      }
      throw this.#count(classify(e));
    }
  }

  async #check(jose: Jose, token: string, keys: KeyGetter): Promise<JWTPayload> {
    const c = this.#config;
    const options: JWTVerifyOptions = {
      algorithms: c.algorithms as string[],
      clockTolerance: c.clockSkewSeconds,
      currentDate: new Date(this.#wallNow()),
    };
    if (c.issuer !== null) options.issuer = c.issuer;
    if (c.audiences.length > 0) options.audience = c.audiences as string[];
    return (await jose.jwtVerify(token, keys, options)).payload;
  }

  #count(e: ProxyError): ProxyError {
    if (e === EXPIRED) this.#counters.expired++;
    else this.#counters.invalid++;
    return e;
  }
}

/**
 * The layer. `jose` and `keys` are promises so that jose is loaded only by proxies that verify tokens; `wallNow` is the
 * wall clock in ms (exp and nbf are wall-clock times), injected so that tests drive expiry with a fake clock.
 */
export function jwtAuthLayer(config: JwtAuthConfig, jose: Promise<Jose>, keys: Promise<KeySource>, wallNow: () => number, counters: JwtCounters): Layer {
  return (inner) => new JwtAuth(config, jose, keys, wallNow, counters, inner).serve;
}
