// The fault injection layer: delays and/or aborts its share of the requests (optionally only those carrying a header).
import type { PolicyDeps } from '../stack/policy-slot.ts';
import type { Layer } from '../stack/service.ts';
import type { FaultDecision } from './fault-decision.ts';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function faultInjectionLayer(fault: FaultDecision, deps: PolicyDeps): Layer {
  return (inner) => async (req) => {
    if (!fault.applies(req.headers)) return inner(req);
    const delay = fault.delayMs(deps.random);
    if (delay > 0) await sleep(delay);
    if (fault.abort(deps.random)) throw fault.abortError!;
    return inner(req);
  };
}
