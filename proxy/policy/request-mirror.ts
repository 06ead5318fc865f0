// The mirror layer: sends a copy of a share of the requests (bodies up to a bound) to a shadow cluster, fire and forget; the
// primary never waits on it.
import type { RequestMirrorConfig } from '../../api/config/policy-config.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import type { PolicyDeps } from '../stack/policy-slot.ts';
import { ProxyRequest } from '../stack/proxy-request.ts';
import { RequestBody } from '../stack/request-body.ts';
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
  const send = (req: ProxyRequest, body: RequestBody | null): void => {
    const headers: HeaderBag = { ...req.headers };
    const copy = new ProxyRequest(req.method, `${req.authority}-shadow`, req.path, headers, body, req.downstream, req.grpc, deps.now());
    copy.route = req.route;
    copy.deadline = copy.startedAt + MIRROR_DEADLINE_MS;
    counters.sent++;
    try {
      shadow(copy).then(discard, onFailure);
    } catch {
      onFailure();
    }
  };
  return (inner) => (req) => {
    if (config.percent < 100 && deps.random() * 100 >= config.percent) return inner(req);
    const body = req.body;
    if (body === null) {
      // Started after the primary's turn of the event loop, so the primary is sent first.
      setImmediate(() => send(req, null));
      return inner(req);
    }
    // The body streams to the primary alone; up to maxBodyBytes of it are kept on the way, and the copy carries them once
    // the primary has its answer (a body still arriving then, or larger than the bound, is not mirrored).
    body.retain(config.maxBodyBytes);
    const primary = inner(req);
    const after = (): void => {
      const bytes = body.snapshot();
      if (bytes === null) counters.skippedBody++;
      else send(req, RequestBody.of(bytes));
    };
    primary.then(after, after);
    return primary;
  };
}
