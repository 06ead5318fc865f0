// The balance stage: picks an endpoint of the request's cluster for each attempt (hash key, original destination, ejection).
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import type { ProxyRequest } from './proxy-request.ts';
import type { Layer, Service } from './service.ts';
import { headerString } from './request-target.ts';

/** The ring-hash key of a request for its cluster, or null. */
export function hashKey(req: ProxyRequest, cluster: UpstreamCluster): string | null {
  const on = cluster.config.loadBalancer.hashOn;
  if (!on) return null;
  switch (on.type) {
    case 'header':
      return headerString(req.clientHeaders[on.name.toLowerCase()]) ?? null;
    case 'source-ip':
      return req.downstream.clientAddress || null;
    case 'cookie': {
      const cookie = req.clientHeaders.cookie;
      const all = Array.isArray(cookie) ? cookie.join('; ') : cookie;
      if (!all) return null;
      for (const part of all.split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0 && part.slice(0, eq).trim() === on.name) return part.slice(eq + 1).trim();
      }
      return null;
    }
  }
}

/** How many times an ejected endpoint is re-picked before taking it anyway (ejection never empties a cluster). */
const EJECTED_REPICKS = 3;

export function balanceLayer(cluster: UpstreamCluster): Layer {
  const hashed = cluster.config.loadBalancer.hashOn !== null;
  return (inner: Service): Service => (req) => {
    const ctx = { hashKey: hashed ? hashKey(req, cluster) : null, originalDst: req.downstream.originalDst };
    let endpoint = cluster.pick(ctx);
    for (let i = 0; endpoint !== null && endpoint.state.ejectedUntil !== 0 && i < EJECTED_REPICKS; i++) {
      if (endpoint.state.ejectedUntil <= performance.now()) break;
      endpoint = cluster.pick(ctx);
    }
    if (endpoint === null) return Promise.reject(new ProxyError(ERRORS.noEndpoints, `cluster ${cluster.name}`));
    req.endpoint = endpoint;
    return inner(req);
  };
}
