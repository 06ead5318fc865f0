// Every metric the control plane and the injector register is documented in docs/metrics.md (so a dashboard author and a
// reader of the docs see the same names).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { IdentityMetrics } from '../../control-plane/identity/identity-metrics.ts';
import { InformerMetrics } from '../../control-plane/ingestion/informer-metrics.ts';
import { ServingMetrics } from '../../control-plane/serving/serving-metrics.ts';
import { createInjectorMetrics } from '../../injector/injector-metrics.ts';

const docs = readFileSync(join(import.meta.dirname, '../../docs/metrics.md'), 'utf8') + readFileSync(join(import.meta.dirname, '../../docs/identity.md'), 'utf8');

describe('control plane and injector metrics are documented', () => {
  it('names every registered metric in docs/metrics.md or docs/identity.md', async () => {
    const registry = new Registry();
    new ServingMetrics(registry, () => 0);
    new InformerMetrics(registry, () => []);
    new IdentityMetrics(registry);
    const names = [...(await registry.getMetricsAsJSON()), ...(await createInjectorMetrics().registry.getMetricsAsJSON())].map((m) => m.name);
    expect(names.length).toBeGreaterThan(15);
    // Written as `name` or `name{labels}`.
    expect(names.filter((n) => !docs.includes(`\`${n}\``) && !docs.includes(`\`${n}{`))).toEqual([]);
  });
});
