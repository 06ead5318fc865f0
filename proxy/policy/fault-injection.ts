// The fault injection layer: delays and/or aborts its share of the requests (optionally only those carrying a header).
import type { PolicyDeps } from '../stack/policy-slot.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import type { ProxyResponse } from '../stack/proxy-response.ts';
import type { Layer, Service } from '../stack/service.ts';
import type { FaultDecision } from './fault-decision.ts';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function faulted(fault: FaultDecision, deps: PolicyDeps, inner: Service, req: ProxyRequest): Promise<ProxyResponse> {
  const delay = fault.delayMs(deps.random);
  if (delay > 0) await sleep(delay);
  if (fault.abort(deps.random)) throw fault.abortError!;
  return inner(req);
}

/** A request the fault does not apply to (no header, when one is named) goes straight on: no async frame. */
export function faultInjectionLayer(fault: FaultDecision, deps: PolicyDeps): Layer {
  return (inner) => (req) => (fault.applies(req.headers) ? faulted(fault, deps, inner, req) : inner(req));
}
