// The sidecar's bootstrap config from the injector's environment: mesh-wide tracing reaches the parsed telemetry config,
// and a value the parser refuses is reported with its path (the sidecar stops with that reason instead of guessing).
import { describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import { sidecarConfigDocument } from './sidecar-bootstrap.ts';

const base = { SKEIN_POD_NAME: 'web-1', SKEIN_POD_NAMESPACE: 'demo' };

describe('sidecar bootstrap tracing', () => {
  it('exports to the collector the injector names, at its sampling share', () => {
    const parsed = parseProxyConfig(sidecarConfigDocument({ ...base, SKEIN_TRACE_COLLECTOR: 'http://10.88.0.1:4318/v1/traces', SKEIN_TRACE_SAMPLING_PERCENT: '100' }));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    expect(parsed.value.telemetry.tracing.collector).toBe('http://10.88.0.1:4318/v1/traces');
    expect(parsed.value.telemetry.tracing.samplingPercent).toBe(100);
  });

  it('keeps the defaults (no collector, 1 %) without the variables', () => {
    const parsed = parseProxyConfig(sidecarConfigDocument(base));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    expect(parsed.value.telemetry.tracing.collector).toBeNull();
    expect(parsed.value.telemetry.tracing.samplingPercent).toBe(1);
  });

  it('refuses a sampling share that is not a number from 0 to 100, naming the field', () => {
    for (const bad of ['lots', '250']) {
      const parsed = parseProxyConfig(sidecarConfigDocument({ ...base, SKEIN_TRACE_SAMPLING_PERCENT: bad }));
      expect(parsed.ok ? [] : parsed.error.map((p) => p.path)).toContain('telemetry.tracing.samplingPercent');
    }
  });
});
