// The demo's tracing pieces that need no cluster: the injector manifest edit, and the verdict on a trace from Jaeger.
import type { KubernetesObject } from '@kubernetes/client-node';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { meshPartManifests } from './demo-mesh-parts.ts';
import { traceProblem, withTraceCollector, type JaegerTrace } from './demo-trace-check.ts';

const manifests = join(import.meta.dirname, '..', 'manifests');

describe('demo tracing', () => {
  it('sets the tracing flags on the shipped injector Deployment only, replacing any, without touching the input', () => {
    const shipped = meshPartManifests(manifests, { part: 'injector', dir: 'injector' })!;
    const before = JSON.stringify(shipped);
    const twice = withTraceCollector(withTraceCollector(shipped, 'http://10.0.0.9:1/v1/traces', 5), 'http://10.244.0.1:4318/v1/traces', 100);
    expect(JSON.stringify(shipped)).toBe(before);
    type D = KubernetesObject & { spec: { template: { spec: { containers: { args: string[] }[] } } } };
    const args = (twice.find((o) => o.kind === 'Deployment') as D).spec.template.spec.containers[0]!.args;
    expect(args[0]).toBe('injector');
    expect(args.filter((a) => a.startsWith('--trace-'))).toEqual(['--trace-collector=http://10.244.0.1:4318/v1/traces', '--trace-sampling-percent=100']);
    expect(twice.filter((o) => o.kind !== 'Deployment')).toEqual(shipped.filter((o) => o.kind !== 'Deployment'));
  });

  // web -> api -> echo as the sidecars report it: inbound, its attempt to the app, the app's outbound call, its attempt.
  const root = 'r0';
  const span = (spanID: string, operationName: string, processID: string, parent?: string) => ({ spanID, operationName, processID, references: parent ? [{ refType: 'CHILD_OF', spanID: parent }] : [] });
  const whole: JaegerTrace = {
    traceID: 't',
    processes: { p1: { serviceName: 'web.demo' }, p2: { serviceName: 'api.demo' }, p3: { serviceName: 'echo.demo' } },
    spans: [
      span('w1', 'inbound inbound-app', 'p1', root),
      span('w2', 'attempt inbound-app', 'p1', 'w1'),
      span('w3', 'outbound api', 'p1', 'w2'),
      span('w4', 'attempt api', 'p1', 'w3'),
      span('a1', 'inbound inbound-app', 'p2', 'w4'),
      span('a2', 'attempt inbound-app', 'p2', 'a1'),
      span('a3', 'outbound echo', 'p2', 'a2'),
      span('a4', 'attempt echo', 'p2', 'a3'),
      span('e1', 'inbound inbound-app', 'p3', 'a4'),
      span('e2', 'attempt inbound-app', 'p3', 'e1'),
    ],
  };
  const chain = ['web', 'api', 'echo'];

  it('passes a whole, correctly parented trace', () => {
    expect(traceProblem(whole, chain, 'demo', root)).toBeNull();
  });

  it('names what is missing or misparented', () => {
    const without = (id: string): JaegerTrace => ({ ...whole, spans: whole.spans.filter((s) => s.spanID !== id) });
    expect(traceProblem(without('e1'), chain, 'demo', root)).toMatch(/no inbound span from echo\.demo.*spans whose parent is not in the trace: echo\.demo attempt inbound-app/);
    expect(traceProblem(without('a3'), chain, 'demo', root)).toMatch(/no outbound span from api\.demo/);
    expect(traceProblem(whole, chain, 'demo', 'other-root')).toMatch(/web\.demo's inbound span is not a child of the request's span other-root/);
    // api's inbound span parented on an echo span: the hop before it is wrong.
    const reparented: JaegerTrace = { ...whole, spans: whole.spans.map((s) => (s.spanID === 'a1' ? span('a1', 'inbound inbound-app', 'p2', 'e2') : s)) };
    expect(traceProblem(reparented, chain, 'demo', root)).toMatch(/api\.demo's inbound span is not a child of a span of web\.demo/);
  });
});
