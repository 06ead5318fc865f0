// The outlier-observation layer of one cluster (below balance): feeds each attempt's result for its endpoint to the detector.
import type { EndpointState } from '../balance/endpoint-state.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { Layer } from '../stack/service.ts';
import { resultOfStatus, type OutlierDetector } from './outlier-detector.ts';

export function outlierLayer(detector: OutlierDetector, endpoints: () => readonly EndpointState[]): Layer {
  return (inner) => async (req) => {
    const ep = req.endpoint?.state;
    try {
      const res = await inner(req);
      if (ep !== undefined) detector.observe(ep, resultOfStatus(res.status), endpoints());
      return res;
    } catch (e) {
      if (ep !== undefined && e instanceof ProxyError) {
        const s = e.spec;
        // Only the endpoint's failures count; a client that went away or a local limit says nothing about it.
        if (s === ERRORS.connectFailed || s === ERRORS.connectTimeout || s === ERRORS.upstreamReset || s === ERRORS.timeout || s === ERRORS.perTryTimeout) {
          detector.observe(ep, 'local-failure', endpoints());
        }
      }
      throw e;
    }
  };
}
