// The circuit-breaker layer of one cluster: admits each attempt through the breaker and releases it when its answer is complete.
import type { ProxyError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import { ProxyResponse, type ResponseBody, type ResponseSink } from '../stack/proxy-response.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import type { Layer, Service } from '../stack/service.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';

/** A response body that frees the breaker's slot when it ends, fails or is cancelled (once). */
class ReleasingBody implements ResponseBody, ResponseSink {
  readonly #inner: ResponseBody;
  readonly #breaker: CircuitBreaker;
  #sink: ResponseSink | null = null;
  #released = false;

  constructor(inner: ResponseBody, breaker: CircuitBreaker) {
    this.#inner = inner;
    this.#breaker = breaker;
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#breaker.release();
  }

  start(sink: ResponseSink): void {
    this.#sink = sink;
    this.#inner.start(this);
  }
  resume(): void {
    this.#inner.resume();
  }
  cancel(): void {
    this.#release();
    this.#inner.cancel();
  }
  data(chunk: Buffer): boolean {
    return this.#sink!.data(chunk);
  }
  end(trailers: HeaderBag | null): void {
    this.#release();
    this.#sink!.end(trailers);
  }
  error(e: ProxyError): void {
    this.#release();
    this.#sink!.error(e);
  }
}

class BreakerService {
  readonly #inner: Service;
  readonly #breaker: CircuitBreaker;
  constructor(inner: Service, breaker: CircuitBreaker) {
    this.#inner = inner;
    this.#breaker = breaker;
  }

  /** An attempt admitted at once (the common case) costs no async frame: the handlers are made once per layer. */
  readonly call = (req: ProxyRequest): Promise<ProxyResponse> => {
    const admitted = this.#breaker.enter();
    return admitted === null ? this.#run(req) : this.#queued(admitted, req);
  };

  async #queued(admitted: ProxyError | Promise<ProxyError | null>, req: ProxyRequest): Promise<ProxyResponse> {
    const e = admitted instanceof Promise ? await admitted : admitted;
    if (e !== null) throw e;
    return this.#run(req);
  }

  /** Admitted: the slot is held until the answer's body is complete, or the attempt fails. */
  #run(req: ProxyRequest): Promise<ProxyResponse> {
    let p: Promise<ProxyResponse>;
    try {
      p = this.#inner(req);
    } catch (e) {
      this.#breaker.release();
      return Promise.reject(e as Error);
    }
    return p.then(this.#answered, this.#failed);
  }

  readonly #answered = (res: ProxyResponse): ProxyResponse => {
    if (res.body === null) {
      this.#breaker.release();
      return res;
    }
    return new ProxyResponse(res.status, res.headers, new ReleasingBody(res.body, this.#breaker), res.trailers);
  };

  readonly #failed = (e: unknown): never => {
    this.#breaker.release();
    throw e;
  };
}

export function circuitBreakerLayer(breaker: CircuitBreaker): Layer {
  return (inner) => new BreakerService(inner, breaker).call;
}
