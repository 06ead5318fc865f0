// The circuit-breaker layer of one cluster: admits each attempt through the breaker; the attempt releases it when over.
import type { ProxyError } from '../errors/proxy-error.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import type { ProxyResponse } from '../stack/proxy-response.ts';
import type { Layer, Service } from '../stack/service.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';

class BreakerService {
  readonly #inner: Service;
  readonly #breaker: CircuitBreaker;
  constructor(inner: Service, breaker: CircuitBreaker) {
    this.#inner = inner;
    this.#breaker = breaker;
  }

  /** An attempt admitted at once (the common case) costs no async frame. */
  readonly call = (req: ProxyRequest): Promise<ProxyResponse> => {
    const admitted = this.#breaker.enter();
    return admitted === null ? this.#run(req) : this.#queued(admitted, req);
  };

  async #queued(admitted: Promise<ProxyError | null> | ProxyError, req: ProxyRequest): Promise<ProxyResponse> {
    const e = admitted instanceof Promise ? await admitted : admitted;
    if (e !== null) throw e;
    return this.#run(req);
  }

  /**
   * Admitted: the slot is held until the attempt is over (its body complete, failed or cancelled). The upstream attempt
   * that the service below makes takes it from the request and releases it (proxy/stack/upstream-attempt.ts), so an
   * admitted request costs no promise, wrapper body or response copy here. A service that answers without making an
   * attempt (a failure before one started) leaves it on the request: it is released when that answer settles.
   */
  #run(req: ProxyRequest): Promise<ProxyResponse> {
    const breaker = this.#breaker;
    req.admission = breaker;
    let p: Promise<ProxyResponse>;
    try {
      p = this.#inner(req);
    } catch (e) {
      p = Promise.reject(e as Error);
    }
    if (req.admission === null) return p;
    req.admission = null;
    return p.finally(() => breaker.release());
  }
}

export function circuitBreakerLayer(breaker: CircuitBreaker): Layer {
  return (inner) => new BreakerService(inner, breaker).call;
}
