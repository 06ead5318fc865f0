// What the control plane tells the cluster it supports (GatewayClass status.supportedFeatures, api/crd/gateway-support.ts)
// and what conformance/claims.yaml claims to the Gateway API conformance suite must agree: one class name, and the
// GatewayClass advertises exactly what the Gateway profiles claim.
import { describe, expect, it } from 'vitest';
import { GATEWAY_SUPPORTED_FEATURES, SKEIN_GATEWAY_CLASS } from '../../api/crd/gateway-support.ts';
import { loadClaims } from '../../conformance/conformance-claims.ts';

describe('Gateway API claims', () => {
  it('conformance/claims.yaml names the GatewayClass the control plane serves and claims only supported features', () => {
    const claims = loadClaims();
    if (!claims.ok) throw new Error(claims.problems.join('; '));
    expect(claims.value.gatewayClass).toBe(SKEIN_GATEWAY_CLASS);
    for (const profile of ['GATEWAY-HTTP', 'GATEWAY-GRPC'] as const) {
      const claimed = claims.value.features[profile];
      expect(claimed.filter((f) => !GATEWAY_SUPPORTED_FEATURES.includes(f))).toEqual([]);
    }
  });

  it('the GatewayClass advertises exactly the features the Gateway profiles claim (each one run and passing)', () => {
    const claims = loadClaims();
    if (!claims.ok) throw new Error(claims.problems.join('; '));
    const claimed = new Set([...claims.value.features['GATEWAY-HTTP'], ...claims.value.features['GATEWAY-GRPC']]);
    expect([...GATEWAY_SUPPORTED_FEATURES]).toEqual([...claimed].sort());
  });

  it('status.supportedFeatures is sorted and without duplicates (the API keys the list by name)', () => {
    expect([...GATEWAY_SUPPORTED_FEATURES].sort()).toEqual(GATEWAY_SUPPORTED_FEATURES);
    expect(new Set(GATEWAY_SUPPORTED_FEATURES).size).toBe(GATEWAY_SUPPORTED_FEATURES.length);
  });
});
