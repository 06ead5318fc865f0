// The outlier-observation layer of one cluster (below balance): each attempt reports its result for its endpoint to the detector.
import type { EndpointState } from '../balance/endpoint-state.ts';
import { ERRORS, type ProxyError } from '../errors/proxy-error.ts';
import type { AttemptObserver } from '../stack/proxy-request.ts';
import type { Layer } from '../stack/service.ts';
import type { EndpointHandle } from '../upstream/upstream-cluster.ts';
import { resultOfStatus, type OutlierDetector } from './outlier-detector.ts';

/** What the cluster's attempts tell the detector: one object per layer, so an observed request costs no async frame. */
class OutlierObserver implements AttemptObserver {
  readonly #detector: OutlierDetector;
  readonly #endpoints: () => readonly EndpointState[];

  constructor(detector: OutlierDetector, endpoints: () => readonly EndpointState[]) {
    this.#detector = detector;
    this.#endpoints = endpoints;
  }

  answered(ep: EndpointHandle, status: number): void {
    this.#detector.observe(ep.state, resultOfStatus(status), this.#endpoints());
  }

  failed(ep: EndpointHandle, e: ProxyError): void {
    const s = e.spec;
    // Only the endpoint's failures count; a client that went away or a bad request body says nothing about it. (A per-try
    // timeout is this attempt's deadline: `timeout` here, renamed by the retry layer above.)
    if (s === ERRORS.connectFailed || s === ERRORS.connectTimeout || s === ERRORS.upstreamReset || s === ERRORS.timeout || s === ERRORS.perTryTimeout) {
      this.#detector.observe(ep.state, 'local-failure', this.#endpoints());
    }
  }
}

export function outlierLayer(detector: OutlierDetector, endpoints: () => readonly EndpointState[]): Layer {
  const observer = new OutlierObserver(detector, endpoints);
  return (inner) => (req) => {
    req.attemptObserver = observer;
    return inner(req);
  };
}
