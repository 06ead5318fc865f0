// The demo's mTLS smoke check: echo must see api's verified SPIFFE id in x-skein-client-id, which a sidecar sets only from a
// peer certificate it verified (and strips from anything else), so the api -> echo hop went sidecar to sidecar over mTLS.
import type { KubeConfig } from '@kubernetes/client-node';
import { spiffeId, DEFAULT_TRUST_DOMAIN } from '../api/proto/identity.ts';
import { DEMO_APP_PORT, DEMO_NAMESPACE, demoPods, journeyHops } from './demo-journey.ts';
import { poll } from './poll.ts';
import type { SmokeResult } from './smoke-summary.ts';

/** What echo's hop says about its caller: the verified identity, or why the check cannot pass. Pure, for unit tests. */
export function callerIdentitySeenByEcho(body: string): string | null {
  const hops = journeyHops(body);
  const last = hops[hops.length - 1];
  return last?.headers?.['x-skein-client-id'] ?? null;
}

export async function checkMtls(kc: KubeConfig, timeoutMs: number): Promise<SmokeResult> {
  const part = 'mTLS between sidecars';
  const pods = await demoPods(kc, ['web', 'api']).catch(() => new Map());
  const web = pods.get('web')?.status?.podIP;
  const api = pods.get('api');
  if (!web || !api) return { part, status: 'fail', detail: 'no Ready web and api pods' };
  const want = spiffeId(DEFAULT_TRUST_DOMAIN, DEMO_NAMESPACE, api.spec?.serviceAccountName || 'default');
  let seen: string | null = null;
  const ok = await poll(async () => {
    const r = await fetch(`http://${web}:${DEMO_APP_PORT}/smoke-mtls`, { signal: AbortSignal.timeout(10_000) });
    seen = callerIdentitySeenByEcho(await r.text());
    return seen === want ? true : undefined;
  }, timeoutMs);
  return ok
    ? { part, status: 'pass', detail: `echo saw its caller as ${want} (x-skein-client-id, set only from a verified client certificate)` }
    : { part, status: 'fail', detail: `echo saw x-skein-client-id ${seen === null ? 'absent' : `"${seen}"`}, want ${want}` };
}
