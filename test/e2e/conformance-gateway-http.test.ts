// e2e: the Gateway API conformance suite (v1.6.3), GATEWAY-HTTP profile, run by `npm run conformance` exactly as a user runs
// it (real node, Skein and its ingress installed from manifests/, the features of conformance/claims.yaml). The suite is the
// judge (conformance/reports/2026-12-06/GATEWAY-HTTP.md: 36 core, 31 extended, on the experimental CRDs; 163-192 s warm on 2
// shared cores, 176 s at load 17-21).
import { describe, it } from 'vitest';
import { expectProfilePasses, PROFILE_TIMEOUT_MS } from './conformance-profile.ts';

describe('Gateway API conformance, GATEWAY-HTTP', () => {
  it('passes every core test and every test of the extended features Skein claims', () => expectProfilePasses('GATEWAY-HTTP', { core: 36, extended: 31 }), PROFILE_TIMEOUT_MS + 100_000);
});
