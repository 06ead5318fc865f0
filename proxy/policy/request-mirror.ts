// The mirror layer: sends a copy of a share of the requests to a shadow cluster, fire and forget; the primary never waits on it.
import type { RequestMirrorConfig } from '../../api/config/policy-config.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import type { PolicyDeps } from '../stack/policy-slot.ts';
import { ProxyRequest } from '../stack/proxy-request.ts';
import type { ProxyResponse } from '../stack/proxy-response.ts';
import type { Layer, Service } from '../stack/service.ts';

/** A mirror that never answers is cut after this long, so that it cannot pile up upstream exchanges. */
const MIRROR_DEADLINE_MS = 10_000;

export interface MirrorCounters {
  sent: number;
  skippedBody: number;
  failed: number;
}

function discard(res: ProxyResponse): void {
  res.body?.cancel();
}

export function requestMirrorLayer(config: RequestMirrorConfig, shadow: Service, deps: PolicyDeps, counters: MirrorCounters): Layer {
  const onFailure = (): void => {
    counters.failed++;
  };
  return (inner) => (req) => {
    if (config.percent >= 100 || deps.random() * 100 < config.percent) {
      // The primary's body streams to the primary alone: until the body can be teed, only bodiless requests are copied.
      if (req.body !== null) counters.skippedBody++;
      else {
        const headers: HeaderBag = { ...req.headers };
        const copy = new ProxyRequest(req.method, `${req.authority}-shadow`, req.path, headers, null, req.downstream, req.grpc, deps.now());
        copy.route = req.route;
        copy.deadline = copy.startedAt + MIRROR_DEADLINE_MS;
        counters.sent++;
        // Started after the primary's turn of the event loop, so the primary is sent first.
        setImmediate(() => {
          try {
            shadow(copy).then(discard, onFailure);
          } catch {
            onFailure();
          }
        });
      }
    }
    return inner(req);
  };
}
