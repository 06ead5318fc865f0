// The stack's unit of composition: a Service answers a ProxyRequest with a ProxyResponse value; a Layer wraps a Service.
import type { ProxyRequest } from './proxy-request.ts';
import type { ProxyResponse } from './proxy-response.ts';

/**
 * Answers one request (one attempt, from the layer's point of view). Resolves with a response *value* whose body has not
 * started flowing; rejects only with a `ProxyError` (proxy/errors/proxy-error.ts). Never writes to the client: only the
 * serve stage does, and only its rescue turns a rejection into an answer. A service may be called again for the same
 * request (a retry) after `req.attempt` was incremented and `req.body` reopened.
 */
export type Service = (req: ProxyRequest) => Promise<ProxyResponse>;

/**
 * Wraps the next service. Layers are applied inside-out at config time (per route or per cluster), never per request:
 * a layer whose config is off must return `inner` itself, so that it costs nothing on the hot path.
 */
export type Layer = (inner: Service) => Service;

/** Applies `layers` around `inner`; the first layer is the outermost. */
export function stack(layers: readonly Layer[], inner: Service): Service {
  let s = inner;
  for (let i = layers.length - 1; i >= 0; i--) s = layers[i]!(s);
  return s;
}
