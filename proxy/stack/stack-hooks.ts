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

/** Starts a span for a hop; `hop` says which stage (`'request'` at serve, `'attempt'` below balance). */
export type SpanStarter = (req: ProxyRequest, hop: 'request' | 'attempt') => HopSpan | null;

/** What a listener's stack is built with. Null hooks add no layer at all: zero cost when unset. */
export interface StackHooks {
  readonly authorize: Authorizer | null;
  readonly span: SpanStarter | null;
}

export const NO_HOOKS: StackHooks = { authorize: null, span: null };

/** The authorization layer, or null when no authorizer is configured (the stack then skips it). */
export function authorizeLayer(authorize: Authorizer | null): Layer | null {
  if (authorize === null) return null;
  return (inner: Service): Service => (req) => {
    const denied = authorize(req);
    return denied === null ? inner(req) : Promise.reject(denied);
  };
}

/** The span layer for a hop, or null when no span starter is configured. */
export function spanLayer(span: SpanStarter | null, hop: 'request' | 'attempt'): Layer | null {
  if (span === null) return null;
  return (inner: Service): Service => async (req) => {
    let s: HopSpan | null = null;
    try {
      s = span(req, hop);
    } catch {
      // Telemetry never breaks the request (OpenTelemetry's rule).
    }
    try {
      const res = await inner(req);
      safeEnd(s, res, null);
      return res;
    } catch (e) {
      safeEnd(s, null, e as ProxyError);
      throw e;
    }
  };
}

function safeEnd(s: HopSpan | null, res: ProxyResponse | null, e: ProxyError | null): void {
  try {
    s?.end(res, e);
  } catch {}
}
