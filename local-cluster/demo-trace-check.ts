// The demo's tracing: every sidecar is given Jaeger as its collector (the injector's mesh-wide --trace-collector), and the
// smoke check "trace in Jaeger" sends one traced request web -> api -> echo and reads that trace back from Jaeger's query
// API, expecting a span from every proxy hop, each parented on the hop before it.
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { DEMO_APP_PORT, DEMO_CHAIN, DEMO_NAMESPACE, demoPods } from './demo-journey.ts';
import { poll } from './poll.ts';
import type { SmokeResult } from './smoke-summary.ts';

/** The demo samples every new trace: its traffic is a few requests a second, and a visitor wants to see each one. */
export const DEMO_TRACE_SAMPLING_PERCENT = 100;

/**
 * The injector Deployment(s) among `objects` with the mesh-wide tracing flags set (replacing any already there), as a user
 * would edit manifests/injector/deployment.yaml. Pure: the input objects are left untouched.
 */
export function withTraceCollector(objects: readonly KubernetesObject[], collectorUrl: string, samplingPercent: number): KubernetesObject[] {
  type Deployment = KubernetesObject & { spec?: { template?: { spec?: { containers?: { name: string; args?: string[] }[] } } } };
  return objects.map((o) => {
    if (o.kind !== 'Deployment') return o;
    const d = structuredClone(o) as Deployment;
    for (const c of d.spec?.template?.spec?.containers ?? []) {
      if (c.args?.[0] !== 'injector') continue;
      c.args = [...c.args.filter((a) => !a.startsWith('--trace-collector') && !a.startsWith('--trace-sampling-percent')), `--trace-collector=${collectorUrl}`, `--trace-sampling-percent=${samplingPercent}`];
    }
    return d;
  });
}

/** Where pods reach the machine the demo runs on (Jaeger listens there): the node's InternalIP. */
export async function nodeAddress(kc: KubeConfig): Promise<string | undefined> {
  const nodes = await kc.makeApiClient(CoreV1Api).listNode();
  for (const n of nodes.items) {
    const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    if (ip) return ip;
  }
  return undefined;
}

/** The part of a trace that Jaeger's query API (`GET /api/traces/<id>`) returns that the check reads. */
export interface JaegerTrace {
  readonly traceID: string;
  readonly spans: readonly {
    readonly spanID: string;
    readonly operationName: string;
    readonly processID: string;
    readonly references?: readonly { readonly refType: string; readonly spanID: string }[];
  }[];
  readonly processes: Readonly<Record<string, { readonly serviceName: string }>>;
}

/**
 * What is missing from a trace of one request through `chain` (entry first) sent with parent span `rootSpanId`, or null
 * when it is whole: every app's sidecar made an `inbound` span, every caller's an `outbound` span; the entry's inbound span
 * is a child of the request's own span, each later inbound span a child of a span of the caller's proxy, and every
 * other span's parent is in the trace. Service names are `<app>.<namespace>` (the proxy's resource service.name).
 */
export function traceProblem(trace: JaegerTrace, chain: readonly string[], namespace: string, rootSpanId: string): string | null {
  const service = (s: JaegerTrace['spans'][number]): string => trace.processes[s.processID]?.serviceName ?? '?';
  const parent = (s: JaegerTrace['spans'][number]): string | undefined => s.references?.find((r) => r.refType === 'CHILD_OF')?.spanID;
  const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
  const problems: string[] = [];
  chain.forEach((app, i) => {
    const svc = `${app}.${namespace}`;
    const inbound = trace.spans.filter((s) => service(s) === svc && s.operationName.startsWith('inbound '));
    if (inbound.length === 0) problems.push(`no inbound span from ${svc}`);
    else if (i === 0) {
      if (!inbound.some((s) => parent(s) === rootSpanId)) problems.push(`${svc}'s inbound span is not a child of the request's span ${rootSpanId}`);
    } else {
      const caller = `${chain[i - 1]}.${namespace}`;
      if (!inbound.some((s) => { const p = byId.get(parent(s) ?? ''); return p !== undefined && service(p) === caller; })) problems.push(`${svc}'s inbound span is not a child of a span of ${caller}`);
    }
    if (i < chain.length - 1 && !trace.spans.some((s) => service(s) === svc && s.operationName.startsWith('outbound '))) problems.push(`no outbound span from ${svc}`);
  });
  const orphans = trace.spans.filter((s) => { const p = parent(s); return p !== rootSpanId && (p === undefined || !byId.has(p)); });
  if (orphans.length > 0) problems.push(`spans whose parent is not in the trace: ${orphans.map((s) => `${service(s)} ${s.operationName}`).join(', ')}`);
  return problems.length > 0 ? problems.join('; ') : null;
}

/** Sends one sampled request to web with a traceparent of its own and waits for the whole trace in Jaeger. */
export async function checkTraceInJaeger(kc: KubeConfig, jaegerQueryUrl: string, timeoutMs: number): Promise<SmokeResult> {
  const part = 'trace in Jaeger';
  const fail = (detail: string): SmokeResult => ({ part, status: 'fail', detail });
  try {
    const web = (await demoPods(kc, ['web'])).get('web')?.status?.podIP;
    if (!web) return fail('no Ready web pod');
    const traceId = randomBytes(16).toString('hex');
    const rootSpanId = randomBytes(8).toString('hex');
    const url = `http://${web}:${DEMO_APP_PORT}/smoke-trace`;
    const r = await fetch(url, { headers: { traceparent: `00-${traceId}-${rootSpanId}-01` }, signal: AbortSignal.timeout(10_000) });
    await r.text();
    if (r.status !== 200) return fail(`${url} answered ${r.status}`);
    let last = 'Jaeger has no such trace';
    const trace = await poll(async () => {
      const res = await fetch(`${jaegerQueryUrl}/api/traces/${traceId}`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) return undefined;
      const t = ((await res.json()) as { data?: JaegerTrace[] }).data?.[0];
      if (!t) return undefined;
      const problem = traceProblem(t, DEMO_CHAIN, DEMO_NAMESPACE, rootSpanId);
      last = problem ?? '';
      return problem === null ? t : undefined;
    }, timeoutMs, 1000);
    if (!trace) return fail(`trace ${traceId}: ${last}`);
    const services = [...new Set(trace.spans.map((s) => trace.processes[s.processID]?.serviceName ?? '?'))].sort().join(', ');
    return { part, status: 'pass', detail: `trace ${traceId}: ${trace.spans.length} spans from ${services}, each hop parented on the one before (${jaegerQueryUrl}/trace/${traceId})` };
  } catch (e) {
    return fail((e as Error).message.split('\n')[0] ?? 'error');
  }
}
