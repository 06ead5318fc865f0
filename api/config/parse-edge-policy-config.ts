// Turns the (schema-valid) input form of the edge policies into their resolved model, collecting every problem.
import { isIP } from 'node:net';
import {
  DEFAULT_CORS_MAX_AGE_SECONDS,
  DEFAULT_EXT_AUTHZ_INCLUDE_HEADERS,
  DEFAULT_EXT_AUTHZ_MAX_RESPONSE_BYTES,
  DEFAULT_EXT_AUTHZ_TIMEOUT_MS,
  DEFAULT_JWKS_FETCH_TIMEOUT_MS,
  DEFAULT_JWKS_REFRESH_INTERVAL_MS,
  DEFAULT_JWKS_RETRY_INTERVAL_MS,
  DEFAULT_JWKS_UNKNOWN_KEY_COOLDOWN_MS,
  DEFAULT_JWT_ALGORITHMS,
  DEFAULT_JWT_CLOCK_SKEW_SECONDS,
} from './edge-policy-defaults.ts';
import { NO_EDGE_POLICY, type CorsConfig, type EdgePolicyConfig, type ExtAuthzConfig, type IpFilterConfig, type JwtAuthConfig } from './edge-policy-config.ts';
import type { PolicyProblem } from './parse-policy-config.ts';

// The input has passed the JSON Schema: fields are of the right type when present, and may be missing.
type Opt = Readonly<Record<string, any>> | null | undefined;

/** Headers a claim or an authorization answer may never set: framing, routing and our own. */
const RESERVED_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'te', 'upgrade', 'keep-alive', 'proxy-connection', 'trailer']);

/** `a.b.c.d/n`, `a:b::/n` or a bare address: null when valid, else why not. */
export function cidrProblem(s: string): string | null {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) return `"${s}" is not an IPv4 or IPv6 address or CIDR`;
  if (slash < 0) return null;
  const bits = s.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(bits) || Number(bits) > max) return `"${s}": prefix length must be 0-${max}`;
  return null;
}

const ORIGIN = /^(https?):\/\/(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$/;

function parseIpFilter(f: Opt, at: string, problems: PolicyProblem[]): IpFilterConfig | null {
  if (!f) return null;
  const allow = (f.allow ?? []) as string[];
  const deny = (f.deny ?? []) as string[];
  allow.forEach((c, i) => {
    const p = cidrProblem(c);
    if (p !== null) problems.push({ path: `${at}.allow[${i}]`, message: p });
  });
  deny.forEach((c, i) => {
    const p = cidrProblem(c);
    if (p !== null) problems.push({ path: `${at}.deny[${i}]`, message: p });
  });
  if (allow.length === 0 && deny.length === 0) problems.push({ path: at, message: 'needs an allow or a deny list' });
  return { allow, deny };
}

function parseCors(c: Opt, at: string, problems: PolicyProblem[]): CorsConfig | null {
  if (!c) return null;
  const allowOrigins = (c.allowOrigins as string[]).map((o) => o.toLowerCase());
  allowOrigins.forEach((o, i) => {
    if (o !== '*' && !ORIGIN.test(o)) problems.push({ path: `${at}.allowOrigins[${i}]`, message: `"${o}" is not "*" or scheme://host[:port] (host may start with "*.")` });
  });
  return {
    allowOrigins,
    allowMethods: ((c.allowMethods ?? []) as string[]).map((m) => m.toUpperCase()),
    allowHeaders: ((c.allowHeaders ?? []) as string[]).map((h) => h.toLowerCase()),
    exposeHeaders: ((c.exposeHeaders ?? []) as string[]).map((h) => h.toLowerCase()),
    maxAge: c.maxAge ?? DEFAULT_CORS_MAX_AGE_SECONDS,
    allowCredentials: c.allowCredentials ?? false,
  };
}

function parseJwt(j: Opt, at: string, problems: PolicyProblem[]): JwtAuthConfig | null {
  if (!j) return null;
  const src = j.jwks ?? {};
  let jwks: JwtAuthConfig['jwks'];
  if ((src.keys === undefined) === (src.url === undefined)) {
    problems.push({ path: `${at}.jwks`, message: 'needs exactly one of keys (an inline key set) or url' });
    jwks = { type: 'inline', keys: [] };
  } else if (src.keys !== undefined) {
    if (src.type === 'remote') problems.push({ path: `${at}.jwks.type`, message: 'is "remote" but keys are given inline' });
    const keys = src.keys as Record<string, unknown>[];
    keys.forEach((k, i) => {
      if (typeof k.kty !== 'string') problems.push({ path: `${at}.jwks.keys[${i}].kty`, message: 'is required (a JSON Web Key)' });
      if ('d' in k) problems.push({ path: `${at}.jwks.keys[${i}]`, message: 'is a private key: give only the public key' });
    });
    if (keys.length === 0) problems.push({ path: `${at}.jwks.keys`, message: 'needs at least one key' });
    jwks = { type: 'inline', keys };
    for (const f of ['refreshIntervalMs', 'fetchTimeoutMs', 'retryIntervalMs', 'unknownKeyCooldownMs']) {
      if (src[f] !== undefined) problems.push({ path: `${at}.jwks.${f}`, message: 'applies only to a jwks url' });
    }
  } else {
    if (src.type === 'inline') problems.push({ path: `${at}.jwks.type`, message: 'is "inline" but a url is given' });
    urlProblem(src.url, `${at}.jwks.url`, problems);
    jwks = {
      type: 'remote',
      url: src.url,
      refreshIntervalMs: src.refreshIntervalMs ?? DEFAULT_JWKS_REFRESH_INTERVAL_MS,
      fetchTimeoutMs: src.fetchTimeoutMs ?? DEFAULT_JWKS_FETCH_TIMEOUT_MS,
      retryIntervalMs: src.retryIntervalMs ?? DEFAULT_JWKS_RETRY_INTERVAL_MS,
      unknownKeyCooldownMs: src.unknownKeyCooldownMs ?? DEFAULT_JWKS_UNKNOWN_KEY_COOLDOWN_MS,
    };
  }
  const algorithms = (j.algorithms as string[] | undefined) ?? DEFAULT_JWT_ALGORITHMS;
  if (jwks.type === 'remote' && algorithms.some((a) => a.startsWith('HS'))) {
    problems.push({ path: `${at}.algorithms`, message: 'HMAC algorithms (HS*) need an inline shared key, never one fetched from a URL' });
  }
  const claimHeaders = ((j.claimHeaders ?? []) as { claim: string; header: string }[]).map((c, i) => {
    const header = c.header.toLowerCase();
    if (RESERVED_HEADERS.has(header) || header.startsWith('x-skein-')) problems.push({ path: `${at}.claimHeaders[${i}].header`, message: `"${header}" cannot be set from a claim` });
    return { claim: c.claim, header };
  });
  return {
    issuer: j.issuer ?? null,
    audiences: j.audiences ?? [],
    jwks,
    algorithms,
    clockSkewSeconds: j.clockSkewSeconds ?? DEFAULT_JWT_CLOCK_SKEW_SECONDS,
    required: j.required ?? true,
    claimHeaders,
    forwardToken: j.forwardToken ?? false,
  };
}

function urlProblem(s: string, at: string, problems: PolicyProblem[]): void {
  try {
    const u = new URL(s);
    if (u.username !== '' || u.password !== '') problems.push({ path: at, message: 'must not carry credentials' });
    if (u.hash !== '') problems.push({ path: at, message: 'must not have a fragment' });
  } catch {
    problems.push({ path: at, message: `"${s}" is not a URL` });
  }
}

function parseExtAuthz(e: Opt, at: string, problems: PolicyProblem[]): ExtAuthzConfig | null {
  if (!e) return null;
  urlProblem(e.url, `${at}.url`, problems);
  if (typeof e.url === 'string' && e.url.includes('?')) problems.push({ path: `${at}.url`, message: 'must not have a query (the request path is appended)' });
  const upstreamHeaders = ((e.upstreamHeaders ?? []) as string[]).map((h) => h.toLowerCase());
  upstreamHeaders.forEach((h, i) => {
    if (RESERVED_HEADERS.has(h) || h.startsWith('x-skein-')) problems.push({ path: `${at}.upstreamHeaders[${i}]`, message: `"${h}" cannot be set by the authorization service` });
  });
  return {
    url: e.url,
    timeoutMs: e.timeoutMs ?? DEFAULT_EXT_AUTHZ_TIMEOUT_MS,
    failOpen: e.failOpen ?? false,
    includeHeaders: ((e.includeHeaders as string[] | undefined) ?? DEFAULT_EXT_AUTHZ_INCLUDE_HEADERS).map((h) => h.toLowerCase()),
    upstreamHeaders,
    maxResponseBytes: e.maxResponseBytes ?? DEFAULT_EXT_AUTHZ_MAX_RESPONSE_BYTES,
  };
}

/** The `edge` block of a listener or route (`at` is its path); absent: no edge policy. */
export function parseEdgePolicies(e: Opt, at: string, problems: PolicyProblem[]): EdgePolicyConfig {
  if (!e) return NO_EDGE_POLICY;
  return {
    ipFilter: parseIpFilter(e.ipFilter, `${at}.ipFilter`, problems),
    cors: parseCors(e.cors, `${at}.cors`, problems),
    jwt: parseJwt(e.jwt, `${at}.jwt`, problems),
    extAuthz: parseExtAuthz(e.extAuthz, `${at}.extAuthz`, problems),
  };
}
