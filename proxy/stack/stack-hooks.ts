// Hook points that the identity and observability issues fill: an authorization decision on inbound and a span per hop.
import type { ProxyError } from '../errors/proxy-error.ts';
import type { ProxyRequest } from './proxy-request.ts';
import type { ProxyResponse } from './proxy-response.ts';
import type { Layer, Service } from './service.ts';

/**
 * Decides whether an inbound request may proceed, from `req.downstream.peerIdentity`, `req.path`, `req.method` (and
 * anything else on the request). Returns null to allow, or the ProxyError to answer with (a 403 spec). Synchronous: the
 * policy is compiled at config time.
 */
export type Authorizer = (req: ProxyRequest) => ProxyError | null;

/** One span around one hop (a request through the stack, or one attempt to an endpoint). */
export interface HopSpan {
  /** `res` on success, `error` on failure; exactly one is non-null. */
  end(res: ProxyResponse | null, error: ProxyError | null): void;
}

/**
 * Starts a span for a hop; `hop` says which stage (`'request'` around the listener's stack, ended when the response value
 * is ready; `'attempt'` below balance, once per try). The request's whole life (body and trailers included) is what a
 * RequestObserver sees.
 */
export type SpanStarter = (req: ProxyRequest, hop: 'request' | 'attempt') => HopSpan | null;

/** How a request ended, as serve saw it; read when the request is done (the response body and trailers included). */
export interface RequestOutcome {
  /** HTTP status sent to the client (499 when the client went away before an answer started). */
  readonly code: number;
  /** gRPC status sent (from the trailers, a trailers-only answer or the rescue); -1 when not gRPC or none was sent. */
  readonly grpcStatus: number;
  /** The catalogue cause (`x-skein-error` value) when the proxy answered or cut the request itself; null otherwise. */
  readonly cause: string | null;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** From the request head arriving to the response completing. */
  readonly seconds: number;
}

/** What an observer keeps for one request; told once when it is done. */
export interface RequestObservation {
  finish(req: ProxyRequest, outcome: RequestOutcome): void;
}

/**
 * Sees every request serve handles (traces, access logs): `start` when the ProxyRequest is built (before routing; it may
 * set propagation headers on `req.headers`), the observation's `finish` when the response is complete or abandoned.
 */
export interface RequestObserver {
  start(req: ProxyRequest): RequestObservation | null;
}

/** What a listener's stack is built with. Null hooks add no layer at all: zero cost when unset. */
export interface StackHooks {
  readonly authorize: Authorizer | null;
  readonly span: SpanStarter | null;
  /** Absent or null: serve does nothing more per request. */
  readonly observe?: RequestObserver | null;
}

export const NO_HOOKS: StackHooks = { authorize: null, span: null, observe: null };

/** The authorization layer, or null when no authorizer is configured (the stack then skips it). */
export function authorizeLayer(authorize: Authorizer | null): Layer | null {
  if (authorize === null) return null;
  return (inner: Service): Service => (req) => {
    const denied = authorize(req);
    return denied === null ? inner(req) : Promise.reject(denied);
  };
}

/**
 * The span layer for a hop, or null when no span starter is configured. A hop the starter makes no span for (not sampled)
 * goes straight to the inner service: no async frame, no closure, as if the layer were not there.
 */
export function spanLayer(span: SpanStarter | null, hop: 'request' | 'attempt'): Layer | null {
  if (span === null) return null;
  return (inner: Service): Service => (req) => {
    let s: HopSpan | null = null;
    try {
      s = span(req, hop);
    } catch {
      // Telemetry never breaks the request (OpenTelemetry's rule).
    }
    return s === null ? inner(req) : traced(inner, req, s);
  };
}

async function traced(inner: Service, req: ProxyRequest, s: HopSpan): Promise<ProxyResponse> {
  try {
    const res = await inner(req);
    safeEnd(s, res, null);
    return res;
  } catch (e) {
    safeEnd(s, null, e as ProxyError);
    throw e;
  }
}

function safeEnd(s: HopSpan | null, res: ProxyResponse | null, e: ProxyError | null): void {
  try {
    s?.end(res, e);
  } catch {}
}
