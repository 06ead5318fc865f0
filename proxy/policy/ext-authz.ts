// The external authorization layer: asks an HTTP service about each request (method, path, selected headers) within a
// timeout; 2xx allows (its chosen headers go upstream), another answer is passed back to the client, a failure fails
// open or closed as configured.
import type { ExtAuthzConfig } from '../../api/config/edge-policy-config.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { ERROR_HEADER } from '../http/http-rescue.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import { FixedBody } from '../stack/fixed-body.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import { ProxyResponse } from '../stack/proxy-response.ts';
import type { Layer, Service } from '../stack/service.ts';
import type { EdgeHttpAnswer, EdgeHttpCall } from './edge-http-client.ts';

export interface ExtAuthzCounters {
  allowed: number;
  denied: number;
  /** The service could not be asked (error, timeout, 5xx, oversized answer) and the request went on (failOpen). */
  failedOpen: number;
  /** ... and the request was refused (fail closed). */
  failedClosed: number;
}

/** Headers of a denying answer that reach the client (what a login redirect or a challenge needs). */
const DENIAL_HEADERS = ['content-type', 'www-authenticate', 'location', 'set-cookie', 'cache-control', 'retry-after'];
const DENIED = new ProxyError(ERRORS.extAuthzDenied);
const UNAVAILABLE = new ProxyError(ERRORS.extAuthzUnavailable);

class Timeout extends Error {}

class ExtAuthz {
  readonly #config: ExtAuthzConfig;
  readonly #call: EdgeHttpCall;
  readonly #counters: ExtAuthzCounters;
  readonly #inner: Service;
  readonly #onFailure: (reason: string) => void;
  /** The service's base path without its trailing slash; the request's path is appended. */
  readonly #origin: string;
  readonly #basePath: string;

  constructor(config: ExtAuthzConfig, call: EdgeHttpCall, counters: ExtAuthzCounters, onFailure: (reason: string) => void, inner: Service) {
    this.#config = config;
    this.#call = call;
    this.#counters = counters;
    this.#onFailure = onFailure;
    this.#inner = inner;
    const u = new URL(config.url);
    this.#origin = u.origin;
    this.#basePath = u.pathname.endsWith('/') ? u.pathname.slice(0, -1) : u.pathname;
  }

  readonly serve = async (req: ProxyRequest): Promise<ProxyResponse> => {
    let answer: EdgeHttpAnswer;
    try {
      answer = await this.#ask(req);
      if (answer.status >= 500 || answer.status < 200) throw new Error(`status ${answer.status}`);
    } catch (e) {
      const why = e instanceof Timeout ? `no answer within ${this.#config.timeoutMs} ms` : (e as Error).message;
      this.#onFailure(why);
      if (this.#config.failOpen) {
        this.#counters.failedOpen++;
        return this.#inner(req);
      }
      this.#counters.failedClosed++;
      throw UNAVAILABLE;
    }
    if (answer.status < 300) {
      this.#counters.allowed++;
      for (const h of this.#config.upstreamHeaders) {
        const v = answer.headers[h];
        if (v !== undefined) req.headers[h] = v;
      }
      return this.#inner(req);
    }
    this.#counters.denied++;
    // gRPC clients understand only a gRPC status: PERMISSION_DENIED, through the rescue.
    if (req.grpc) throw DENIED;
    const headers: HeaderBag = Object.create(null);
    for (const h of DENIAL_HEADERS) {
      const v = answer.headers[h];
      if (v !== undefined) headers[h] = v;
    }
    headers[ERROR_HEADER] = ERRORS.extAuthzDenied.cause;
    headers['content-length'] = String(answer.body.length);
    return new ProxyResponse(answer.status, headers, answer.body.length > 0 && req.method !== 'HEAD' ? new FixedBody(answer.body) : null);
  };

  #ask(req: ProxyRequest): Promise<EdgeHttpAnswer> {
    const headers: Record<string, string> = Object.create(null);
    for (const h of this.#config.includeHeaders) {
      const v = req.headers[h];
      if (v !== undefined) headers[h] = Array.isArray(v) ? v.join(', ') : v;
    }
    headers['x-forwarded-host'] = req.authority;
    const abort = new AbortController();
    return new Promise<EdgeHttpAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        abort.abort();
        reject(new Timeout());
      }, this.#config.timeoutMs);
      this.#call({ method: req.method, url: this.#origin + this.#basePath + req.path, headers, signal: abort.signal, maxBytes: this.#config.maxResponseBytes }).then(
        (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}

export function extAuthzLayer(config: ExtAuthzConfig, call: EdgeHttpCall, counters: ExtAuthzCounters, onFailure: (reason: string) => void): Layer {
  return (inner) => new ExtAuthz(config, call, counters, onFailure, inner).serve;
}
