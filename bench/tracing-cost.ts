// The cost of tracing (issue 13, "Cost"): one proxy's HTTP/1.1 throughput and the sidecar pair's p99 at a fixed rate with
// tracing off (no collector), and with spans exported over OTLP/HTTP at 0 %, 1 % and 100 % sampling of new traces, each as
// a ratio to the run without tracing. Called by bench/run.ts with the run's upstream; every variant runs in the same window
// of the same run, interleaved run by run, so the ratios hold on a shared machine.
import { join } from 'node:path';
import { fortio, parseFortioJson, parseWrk, wrk } from './lib/load-tools.ts';
import { freePort, waitForPort, type Started } from './lib/process-group.ts';
import type { LoadSectionOptions } from './lib/section-options.ts';
import { skeinProxyConfig } from './lib/skein-config.ts';
import { httpStatus, startSkeinProxy } from './lib/skein-proxy.ts';
import { median, round } from './lib/stats.ts';

/** `off`: no collector configured (metrics only); otherwise the mesh default sampling percent, with export on. */
export const TRACING_VARIANTS = ['off', '0', '1', '100'] as const;
export type TracingVariant = (typeof TRACING_VARIANTS)[number];

export type TracingCostOptions = LoadSectionOptions;

export interface TracingVariantResult {
  readonly variant: TracingVariant;
  /** wrk through one proxy, closed loop (median of runs). */
  readonly rps: number | null;
  /** fortio through the pair at `qps` (median of runs), milliseconds. */
  readonly pairP99Ms: number | null;
  /** What the stand-in collector received from this variant's proxies (0 for `off`, and for `0`). */
  readonly exportRequests: number;
  readonly exportBytes: number;
}

export interface TracingCostResult {
  readonly variants: readonly TracingVariantResult[];
  /** Each variant's figure over the `off` variant's, in the same run. */
  readonly rpsRatio: Readonly<Record<TracingVariant, number | null>>;
  readonly pairP99Ratio: Readonly<Record<TracingVariant, number | null>>;
}

interface VariantProcs { readonly single: Started; readonly out: Started; readonly inb: Started; readonly ports: { single: number; out: number } }

async function startVariant(o: TracingCostOptions, v: TracingVariant, collector: string): Promise<VariantProcs> {
  const telemetry = v === 'off' ? {} : { telemetry: { tracing: { collector, samplingPercent: Number(v) } } };
  const p = { single: await freePort(), out: await freePort(), in: await freePort(), aSingle: await freePort(), aOut: await freePort(), aIn: await freePort() };
  const start = async (name: string, admin: number, listener: Parameters<typeof skeinProxyConfig>[2][number]): Promise<Started> => {
    const r = await startSkeinProxy(o.group, `${name}-${v}`, { ...skeinProxyConfig(`${name}-${v}`, admin, [listener]), ...telemetry }, admin, o.workDir);
    if (!r.ok) throw new Error(`tracing ${v}: ${r.reason}`);
    return r.proc;
  };
  const inb = await start('tracing-in', p.aIn, { name: 'in', port: p.in, direction: 'inbound', upstreamPort: o.upstreamPort, upstreamProtocol: 'http1' });
  const out = await start('tracing-out', p.aOut, { name: 'out', port: p.out, direction: 'outbound', upstreamPort: p.in, upstreamProtocol: 'http1' });
  const single = await start('tracing-single', p.aSingle, { name: 'single', port: p.single, direction: 'outbound', upstreamPort: o.upstreamPort, upstreamProtocol: 'http1' });
  for (const port of [p.out, p.single]) {
    const code = await httpStatus(`http://127.0.0.1:${port}/`);
    if (code !== 200) throw new Error(`tracing ${v}: the proxy on ${port} answered ${code ?? 'nothing'} instead of 200`);
  }
  return { single, out, inb, ports: { single: p.single, out: p.out } };
}

async function sinkCount(port: number): Promise<{ requests: number; bytes: number }> {
  const r = await fetch(`http://127.0.0.1:${port}/count`);
  return (await r.json()) as { requests: number; bytes: number };
}

/** Runs the four variants side by side (each its own single proxy and pair, and its own stand-in collector). */
export async function measureTracingCost(o: TracingCostOptions): Promise<TracingCostResult> {
  const sinks = new Map<TracingVariant, { port: number; proc: Started }>();
  const procs = new Map<TracingVariant, VariantProcs>();
  const rps = new Map<TracingVariant, number[]>();
  const p99 = new Map<TracingVariant, number[]>();
  try {
    for (const v of TRACING_VARIANTS) {
      const port = await freePort();
      const proc = o.group.start(`otlp-sink-${v}`, process.execPath, [join(import.meta.dirname, 'lib', 'otlp-sink.ts'), String(port)]);
      await waitForPort(port, 10_000, proc);
      sinks.set(v, { port, proc });
      procs.set(v, await startVariant(o, v, `http://127.0.0.1:${port}/v1/traces`));
    }
    for (let run = 1; run <= o.runs; run++) {
      for (const v of TRACING_VARIANTS) {
        const vp = procs.get(v)!;
        const url = `http://127.0.0.1:${vp.ports.single}/`;
        await wrk(o.group, url, o.connections, o.seconds.warm).done;
        const t = parseWrk(await wrk(o.group, url, o.connections, o.seconds.tput).done);
        if (t.errors > 0) throw new Error(`tracing ${v}: wrk saw ${t.errors} errors`);
        (rps.get(v) ?? rps.set(v, []).get(v)!).push(t.rps);
        const json = join(o.workDir, `fortio-tracing-${v}-${run}.json`);
        const pairUrl = `http://127.0.0.1:${vp.ports.out}/`;
        await fortio(o.group, o.fortioPath, pairUrl, o.qps, o.connections, o.seconds.warm, json).done;
        await fortio(o.group, o.fortioPath, pairUrl, o.qps, o.connections, o.seconds.lat, json).done;
        const l = parseFortioJson(json);
        if (l.errors > 0) throw new Error(`tracing ${v}: fortio saw ${l.errors} errors`);
        (p99.get(v) ?? p99.set(v, []).get(v)!).push(l.p99);
        o.log(`tracing ${v} run ${run}: ${Math.round(t.rps)} req/s one proxy, pair p99 ${l.p99.toFixed(3)} ms`);
      }
    }
    // The batches waiting in the proxies (scheduledDelayMs, 1 s by default) reach the collector before the count is read.
    await new Promise((r) => setTimeout(r, 1500));
    const variants: TracingVariantResult[] = [];
    for (const v of TRACING_VARIANTS) {
      const c = await sinkCount(sinks.get(v)!.port);
      variants.push({ variant: v, rps: round(median(rps.get(v) ?? []), 0), pairP99Ms: round(median(p99.get(v) ?? []), 3), exportRequests: c.requests, exportBytes: c.bytes });
    }
    // A variant that should export and did not measured nothing about tracing: say so rather than report a ratio.
    const full = variants.find((x) => x.variant === '100')!;
    if (full.exportRequests === 0) throw new Error('tracing 100: the proxies exported no span to the collector');
    const off = variants.find((x) => x.variant === 'off')!;
    const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : round(a / b, 3));
    const rpsRatio = Object.fromEntries(variants.map((x) => [x.variant, ratio(x.rps, off.rps)])) as Record<TracingVariant, number | null>;
    const pairP99Ratio = Object.fromEntries(variants.map((x) => [x.variant, ratio(x.pairP99Ms, off.pairP99Ms)])) as Record<TracingVariant, number | null>;
    return { variants, rpsRatio, pairP99Ratio };
  } finally {
    for (const vp of procs.values()) for (const p of [vp.single, vp.out, vp.inb]) await o.group.stop(p);
    for (const s of sinks.values()) await o.group.stop(s.proc);
  }
}
