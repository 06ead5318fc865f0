// The demo's own services (examples/demo/: web -> api -> echo, plus a traffic generator) and the journey checks run on them.
import { CoreV1Api, KubeConfig, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { join } from 'node:path';
import { PROXY_HEALTH_PORT, PROXY_PROMETHEUS_PATH } from '../api/mesh/mesh-constants.ts';
import { readManifests } from './apply-manifests.ts';
import { poll } from './poll.ts';
import type { SmokeResult } from './smoke-summary.ts';

export const DEMO_NAMESPACE = 'skein-demo';
/** The call chain, entry first: web calls api, api calls echo (examples/caller, examples/echo). */
export const DEMO_CHAIN = ['web', 'api', 'echo'] as const;
export const DEMO_APP_PORT = 8080;
const TRAFFIC_APP = 'loadgen';

/**
 * examples/demo/ split in two: the services, then the traffic generator. The demo applies the generator only after the
 * request check, so that check sees its own request alone in the sidecars' counters.
 */
export function demoManifests(repoRoot: string): { services: KubernetesObject[]; traffic: KubernetesObject[] } {
  const all = readManifests(join(repoRoot, 'examples', 'demo'));
  const isTraffic = (o: KubernetesObject): boolean => o.metadata?.labels?.app === TRAFFIC_APP;
  return { services: all.filter((o) => !isTraffic(o)), traffic: all.filter(isTraffic) };
}

/** The traffic generator's request rate as its manifest sets it (RATE; the app's default is 2). */
export function trafficRate(traffic: readonly KubernetesObject[]): number {
  type WithEnv = { spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } } };
  const env = traffic.flatMap((o) => (o as WithEnv).spec?.template?.spec?.containers?.flatMap((c) => c.env ?? []) ?? []);
  const rate = Number(env.find((e) => e.name === 'RATE')?.value ?? 2);
  return Number.isFinite(rate) && rate > 0 ? rate : 2;
}

/** Requests counted by a sidecar, by direction (`skein_requests_total` summed over listener, route, cluster and code). */
export function requestCountsByDirection(prometheusText: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of prometheusText.split('\n')) {
    if (!line.startsWith('skein_requests_total{')) continue;
    const m = /^skein_requests_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const direction = /(?:^|,)direction="([^"]*)"/.exec(m[1]!)?.[1] ?? '';
    const value = Number(m[2]);
    if (Number.isFinite(value)) counts[direction] = (counts[direction] ?? 0) + value;
  }
  return counts;
}

/** What the demo's entry answered, unwrapped hop by hop (each caller embeds its upstream's body as text). */
export interface JourneyHop {
  readonly pod: string;
  readonly upstreamStatus?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The hops in a web answer, entry first; stops at the first body that is not a caller's or echo's JSON. */
export function journeyHops(body: string): JourneyHop[] {
  const hops: JourneyHop[] = [];
  let text: string | undefined = body;
  while (text !== undefined && hops.length < 10) {
    let doc: { pod?: unknown; upstreamStatus?: unknown; upstreamBody?: unknown; headers?: unknown };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      break;
    }
    if (typeof doc.pod !== 'string') break;
    hops.push({
      pod: doc.pod,
      ...(typeof doc.upstreamStatus === 'number' ? { upstreamStatus: doc.upstreamStatus } : {}),
      ...(doc.headers && typeof doc.headers === 'object' ? { headers: doc.headers as Record<string, string> } : {}),
    });
    text = typeof doc.upstreamBody === 'string' ? doc.upstreamBody : undefined;
  }
  return hops;
}

function isReady(p: V1Pod): boolean {
  return !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true && !!p.status?.podIP;
}

/** The Ready pod of each demo app (the first one by name when scaled up). */
export async function demoPods(kc: KubeConfig, apps: readonly string[]): Promise<Map<string, V1Pod>> {
  const core = kc.makeApiClient(CoreV1Api);
  const found = new Map<string, V1Pod>();
  for (const app of apps) {
    const list = await core.listNamespacedPod({ namespace: DEMO_NAMESPACE, labelSelector: `app=${app}` });
    const ready = list.items.filter(isReady).sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    if (ready[0]) found.set(app, ready[0]);
  }
  return found;
}

/** Scrapes one sidecar from the host, as Prometheus does: `<pod IP>:15020/stats/prometheus`. */
export async function sidecarRequestCounts(podIp: string): Promise<Record<string, number>> {
  const r = await fetch(`http://${podIp}:${PROXY_HEALTH_PORT}${PROXY_PROMETHEUS_PATH}`, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`${podIp}:${PROXY_HEALTH_PORT}${PROXY_PROMETHEUS_PATH} answered ${r.status}`);
  return requestCountsByDirection(await r.text());
}

// Which sidecar counters one request through the chain must move: every hop's inbound, and the outbound of every hop that calls on.
const EXPECTED_MOVES: readonly [app: string, direction: string][] = [
  ['web', 'inbound'],
  ['web', 'outbound'],
  ['api', 'inbound'],
  ['api', 'outbound'],
  ['echo', 'inbound'],
];

/**
 * Sends one request from the host to web's pod IP (the web pod's iptables hand it to its sidecar's inbound listener) and
 * passes when the answer shows web -> api -> echo with the pods that are Ready, and every sidecar on the way counted it.
 */
export async function checkRequestJourney(kc: KubeConfig, timeoutMs: number): Promise<SmokeResult> {
  const part = 'request web -> api -> echo';
  const fail = (detail: string): SmokeResult => ({ part, status: 'fail', detail });
  try {
    const pods = await demoPods(kc, DEMO_CHAIN);
    const missing = DEMO_CHAIN.filter((a) => !pods.has(a));
    if (missing.length > 0) return fail(`no Ready pod for ${missing.join(', ')} in ${DEMO_NAMESPACE}`);
    const ip = (app: string): string => pods.get(app)!.status!.podIP!;
    const name = (app: string): string => pods.get(app)!.metadata!.name!;

    const before = new Map<string, Record<string, number>>();
    for (const app of DEMO_CHAIN) before.set(app, await sidecarRequestCounts(ip(app)));

    // The first calls can race the control plane's push of new endpoints (or the hosts files' rewrite): retry until a deadline.
    const url = `http://${ip('web')}:${DEMO_APP_PORT}/smoke-journey`;
    let lastProblem = 'no answer';
    const hops = await poll(async () => {
      const r = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((e: Error) => {
        lastProblem = `${url}: ${String(e.cause ?? e.message)}`;
        return undefined;
      });
      if (!r) return undefined;
      const body = await r.text();
      const h = journeyHops(body);
      const chain = h.map((x) => x.pod);
      const want = DEMO_CHAIN.map(name);
      if (r.status === 200 && chain.length === want.length && chain.every((p, i) => p === want[i]) && h.slice(0, -1).every((x) => x.upstreamStatus === 200)) return h;
      lastProblem = `${url} answered ${r.status}: ${body.slice(0, 300).replaceAll('\n', ' ')}`;
      return undefined;
    }, timeoutMs);
    if (!hops) return fail(lastProblem);

    const unmoved: string[] = [];
    const moves: string[] = [];
    for (const [app, direction] of EXPECTED_MOVES) {
      const after = await sidecarRequestCounts(ip(app));
      const delta = (after[direction] ?? 0) - (before.get(app)![direction] ?? 0);
      if (delta < 1) unmoved.push(`${app} ${direction}`);
      moves.push(`${app} ${direction} +${delta}`);
    }
    if (unmoved.length > 0) return fail(`answered through ${hops.map((h) => h.pod).join(' -> ')} but these sidecar counters did not move: ${unmoved.join(', ')}`);
    return { part, status: 'pass', detail: `${url} answered through ${hops.map((h) => h.pod).join(' -> ')}; sidecar requests ${moves.join(', ')}` };
  } catch (e) {
    return fail((e as Error).message.split('\n')[0] ?? 'error');
  }
}

interface PromVector {
  status?: string;
  data?: { result?: { metric: Record<string, string>; value: [number, string] }[] };
}

/**
 * Passes once Prometheus has scraped the sidecars' request counters of the demo pods: inbound for each service and
 * outbound for each caller, including the traffic generator (so its traffic is flowing through its own sidecar); and,
 * with `tcp`, their opaque TCP connections closed (the traffic generator's TCP exchanges with echo), so the dashboards' TCP
 * panels have series.
 */
export async function checkMetricsInPrometheus(
  prometheusUrl: string,
  apps: { inbound: readonly string[]; outbound: readonly string[]; tcp?: { inbound: readonly string[]; outbound: readonly string[] } },
  timeoutMs: number,
): Promise<SmokeResult> {
  const part = 'metrics in Prometheus';
  const want = (a: { inbound: readonly string[]; outbound: readonly string[] }): string[] => [...a.inbound.map((x) => `${x} inbound`), ...a.outbound.map((x) => `${x} outbound`)];
  const checks = [
    { label: '', query: `sum by (app, direction) (skein_requests_total{namespace="${DEMO_NAMESPACE}"})`, want: want(apps) },
    ...(apps.tcp ? [{ label: 'TCP connections closed: ', query: `sum by (app, direction) (skein_tcp_connections_closed_total{namespace="${DEMO_NAMESPACE}"})`, want: want(apps.tcp) }] : []),
  ];
  const seen = checks.map(() => new Map<string, number>());
  let lastProblem = 'no answer';
  const ok = await poll(async () => {
    for (const [i, c] of checks.entries()) {
      const r = (await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(c.query)}`, { signal: AbortSignal.timeout(5000) }).then((x) => x.json())) as PromVector;
      if (r.status !== 'success') {
        lastProblem = `query status ${r.status}`;
        return undefined;
      }
      seen[i] = new Map((r.data?.result ?? []).map((s) => [`${s.metric.app ?? '?'} ${s.metric.direction ?? '?'}`, Number(s.value[1])]));
    }
    return checks.every((c, i) => c.want.every((w) => (seen[i]!.get(w) ?? 0) > 0)) ? true : undefined;
  }, timeoutMs, 2000);
  const found = checks.map((c, i) => `${c.query}: ${c.label}${c.want.map((w) => `${w}=${seen[i]!.get(w) ?? 0}`).join(', ')}`).join('; ');
  if (!ok) return { part, status: 'fail', detail: `after ${Math.round(timeoutMs / 1000)} s, ${found || lastProblem}` };
  return { part, status: 'pass', detail: found };
}
