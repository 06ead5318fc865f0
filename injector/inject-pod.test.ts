// Golden tests of the mutation: testdata/*.input.yaml -> *.golden.yaml (UPDATE_GOLDEN=1 rewrites them), plus its invariants.
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { INIT_CONTAINER_NAME, SIDECAR_CONTAINER_NAME } from '../api/mesh/mesh-constants.ts';
import { injectPod, type InjectionOutcome, type NamespaceInfo } from './inject-pod.ts';
import { generateIptablesScript } from './iptables-script.ts';
import { applyJsonPatch } from './json-patch.ts';
import { meshSettings, parseTraceSettings, type MeshSettings } from './mesh-settings.ts';
import type { Pod } from './pod-types.ts';

const dir = join(import.meta.dirname, 'testdata');
const update = process.env.UPDATE_GOLDEN === '1';

interface Case {
  namespace: NamespaceInfo;
  settings?: Partial<MeshSettings>;
  pod: unknown;
}

function goldenOf(outcome: InjectionOutcome): unknown {
  switch (outcome.kind) {
    case 'injected':
      return {
        outcome: 'injected',
        status: outcome.status,
        warnings: outcome.warnings,
        patch: outcome.patch,
        pod: outcome.pod,
        iptablesScript: generateIptablesScript(outcome.rules),
      };
    case 'skipped':
      return { outcome: 'skipped', reason: outcome.reason, warn: outcome.warn, message: outcome.message };
    case 'invalid':
      return { outcome: 'invalid', problems: outcome.problems };
  }
}

const inputs = readdirSync(dir).filter((f) => f.endsWith('.input.yaml')).sort();

describe('injectPod golden files', () => {
  it('has test data', () => {
    expect(inputs.length).toBeGreaterThan(15);
  });
  for (const file of inputs) {
    it(file.replace('.input.yaml', ''), () => {
      const c = parse(readFileSync(join(dir, file), 'utf8')) as Case;
      const settings = meshSettings(c.settings);
      const outcome = injectPod(c.pod, c.namespace, settings);
      const golden = stringify(goldenOf(outcome), { lineWidth: 0, aliasDuplicateObjects: false });
      const goldenPath = join(dir, file.replace('.input.yaml', '.golden.yaml'));
      if (update || !existsSync(goldenPath)) writeFileSync(goldenPath, golden);
      expect(golden).toBe(readFileSync(goldenPath, 'utf8'));

      if (outcome.kind === 'injected') {
        // The patch, applied by an RFC 6902 applier to the input, yields exactly the injected pod.
        const applied = applyJsonPatch(c.pod, outcome.patch);
        expect(applied.ok && applied.value).toEqual(outcome.pod);
        // The input is never mutated.
        expect(c.pod).toEqual((parse(readFileSync(join(dir, file), 'utf8')) as Case).pod);
        // A second pass (webhook reinvocation, `skein inject` twice) adds nothing.
        const again = injectPod(outcome.pod, c.namespace, settings);
        expect(again.kind === 'skipped' && again.reason).toBe('already-injected');
        const names = [...(outcome.pod.spec!.initContainers ?? []), ...outcome.pod.spec!.containers].map((x) => x.name);
        expect(names.filter((n) => n === SIDECAR_CONTAINER_NAME)).toHaveLength(1);
        expect(names.filter((n) => n === INIT_CONTAINER_NAME)).toHaveLength(1);
      }
    });
  }
});

describe('injectPod modes', () => {
  const pod = (): Pod => ({ metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'x' }] } });
  it('native mode: skein-init then the proxy with restartPolicy Always as init containers', () => {
    const o = injectPod(pod(), { name: 'ns' }, meshSettings({ nativeSidecars: true }));
    if (o.kind !== 'injected') throw new Error(o.kind);
    expect(o.pod.spec!.initContainers!.map((c) => [c.name, c.restartPolicy])).toEqual([[INIT_CONTAINER_NAME, undefined], [SIDECAR_CONTAINER_NAME, 'Always']]);
    expect(o.pod.spec!.containers.map((c) => c.name)).toEqual(['app']);
  });
  it('regular mode: the proxy is the first container and has a postStart hold', () => {
    const o = injectPod(pod(), { name: 'ns' }, meshSettings({ nativeSidecars: false }));
    if (o.kind !== 'injected') throw new Error(o.kind);
    expect(o.pod.spec!.containers.map((c) => c.name)).toEqual([SIDECAR_CONTAINER_NAME, 'app']);
    expect(JSON.stringify(o.pod.spec!.containers[0]!.lifecycle)).toContain('wait-ready');
  });
  it('adds the Prometheus scrape annotations for the proxy metrics on the health port, unless the pod has its own', () => {
    const o = injectPod(pod(), { name: 'ns' }, meshSettings());
    if (o.kind !== 'injected') throw new Error(o.kind);
    expect(o.pod.metadata!.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15020', 'prometheus.io/path': '/stats/prometheus' });
    const own = pod();
    own.metadata!.annotations = { 'prometheus.io/port': '9100' };
    const kept = injectPod(own, { name: 'ns' }, meshSettings());
    if (kept.kind !== 'injected') throw new Error(kept.kind);
    const promKeys = Object.entries(kept.pod.metadata!.annotations!).filter(([k]) => k.startsWith('prometheus.io/'));
    expect(promKeys).toEqual([['prometheus.io/port', '9100']]);
  });
  it('gives the sidecar the mesh trust bundle when one is published, and nothing otherwise', () => {
    const sidecarEnv = (o: ReturnType<typeof injectPod>) => {
      if (o.kind !== 'injected') throw new Error(o.kind);
      const c = [...(o.pod.spec!.initContainers ?? []), ...o.pod.spec!.containers].find((x) => x.name === SIDECAR_CONTAINER_NAME)!;
      return (c.env as { name: string; value?: string }[]).filter((e) => e.name === 'SKEIN_TRUST_ANCHORS');
    };
    expect(sidecarEnv(injectPod(pod(), { name: 'ns' }, meshSettings()))).toEqual([]);
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const withRoots = injectPod(pod(), { name: 'ns' }, meshSettings({ trustAnchorsPem: pem }));
    expect(sidecarEnv(withRoots)).toEqual([{ name: 'SKEIN_TRUST_ANCHORS', value: pem }]);
    // The pod says so, for the control plane to reach it over mTLS.
    if (withRoots.kind === 'injected') expect(withRoots.pod.metadata!.annotations!['skein.dev/mesh-identity']).toBe('enabled');
    const without = injectPod(pod(), { name: 'ns' }, meshSettings());
    if (without.kind === 'injected') expect(without.pod.metadata!.annotations!['skein.dev/mesh-identity']).toBeUndefined();
  });
  it('gives the sidecar the mesh-wide trace collector and sampling share when set, and nothing otherwise', () => {
    const traceEnv = (o: ReturnType<typeof injectPod>) => {
      if (o.kind !== 'injected') throw new Error(o.kind);
      const c = [...(o.pod.spec!.initContainers ?? []), ...o.pod.spec!.containers].find((x) => x.name === SIDECAR_CONTAINER_NAME)!;
      return (c.env as { name: string; value?: string }[]).filter((e) => e.name.startsWith('SKEIN_TRACE_'));
    };
    expect(traceEnv(injectPod(pod(), { name: 'ns' }, meshSettings()))).toEqual([]);
    expect(traceEnv(injectPod(pod(), { name: 'ns' }, meshSettings({ traceCollector: 'http://jaeger:4318/v1/traces', traceSamplingPercent: 100 })))).toEqual([
      { name: 'SKEIN_TRACE_COLLECTOR', value: 'http://jaeger:4318/v1/traces' },
      { name: 'SKEIN_TRACE_SAMPLING_PERCENT', value: '100' },
    ]);
    expect(traceEnv(injectPod(pod(), { name: 'ns' }, meshSettings({ traceSamplingPercent: 0 })))).toEqual([{ name: 'SKEIN_TRACE_SAMPLING_PERCENT', value: '0' }]);
  });
  it('parses the tracing flags, naming the flag in each refusal', () => {
    expect(parseTraceSettings(undefined, undefined)).toEqual({ ok: true, value: { traceCollector: '', traceSamplingPercent: null } });
    expect(parseTraceSettings('http://10.0.0.1:4318/v1/traces', '2.5')).toEqual({ ok: true, value: { traceCollector: 'http://10.0.0.1:4318/v1/traces', traceSamplingPercent: 2.5 } });
    for (const bad of ['jaeger:4318', 'ftp://x/v1/traces', 'http://user:pw@x/v1/traces', 'not a url']) {
      const r = parseTraceSettings(bad, undefined);
      expect(r.ok ? '' : r.error).toMatch(/^--trace-collector must be an http/);
    }
    for (const bad of ['101', '-1', 'lots', '', '1e2']) {
      const r = parseTraceSettings(undefined, bad);
      expect(r.ok ? '' : r.error).toMatch(/^--trace-sampling-percent must be a number from 0 to 100/);
    }
  });
  it('never throws on hostile shapes', () => {
    const hostile: unknown[] = [null, 1, 'pod', [], {}, { spec: null }, { spec: { containers: 'x' } }, { spec: { containers: [null] } },
      { metadata: { labels: { a: 1 } }, spec: { containers: [{ name: 'a' }] } }, { metadata: [], spec: { containers: [{ name: 'a' }] } },
      { spec: { containers: [{ name: 'a', ports: 'x', readinessProbe: { httpGet: null } }] } },
      { spec: { containers: [{ name: 'a', ports: [null, { containerPort: 'x' }], livenessProbe: { tcpSocket: { port: -1 } } }] } },
      JSON.parse('{"metadata":{"annotations":{"__proto__":"x"}},"spec":{"containers":[{"name":"a"}]}}')];
    for (const h of hostile) expect(() => injectPod(h, { name: 'ns' }, meshSettings())).not.toThrow();
  });
});
