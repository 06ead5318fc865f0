// The sidecar finds Certify at the control plane's host on the identity port; without mesh roots it has no identity.
import { describe, expect, it } from 'vitest';
import { ProxyMetrics } from '../telemetry/proxy-metrics.ts';
import { identityAddress, sidecarIdentity } from './sidecar-identity.ts';

describe('sidecar identity', () => {
  it('Certify is on the control plane host at port 15012', () => {
    expect(identityAddress('skein-control-plane.skein-system.svc:15010')).toBe('skein-control-plane.skein-system.svc:15012');
    expect(identityAddress('10.0.0.1:15010')).toBe('10.0.0.1:15012');
    expect(identityAddress('cp.example')).toBe('cp.example:15012');
  });
  it('no trust anchors or no control plane: no identity (plain text, as before identity existed)', async () => {
    const m = new ProxyMetrics();
    expect(await sidecarIdentity({ SKEIN_CONTROL_PLANE_ADDRESS: 'cp:15010' }, m, () => {})).toBeNull();
    expect(await sidecarIdentity({ SKEIN_TRUST_ANCHORS: '-----BEGIN CERTIFICATE-----' }, m, () => {})).toBeNull();
  });
});
