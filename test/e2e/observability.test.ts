// e2e: the golden signals and traces of a mesh on the real node, read back through Prometheus's and Jaeger's HTTP APIs: traffic
// from two callers to echo with known injected failures and delays gives exactly the counts, success rate and p99 latency by
// caller that the traffic implies, a gRPC call failing with NOT_FOUND (from outside the mesh, and from a meshed caller over
// mTLS) shows as such in the metrics and on its spans, opaque TCP is counted on both sides, and every query of the shipped
// dashboards returns a series.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardProblems, dashboardQueries, MESH_SCRAPE_JOBS } from '../../local-cluster/dashboard-check.ts';
import { checkControlPlane } from '../../local-cluster/demo-control-plane-check.ts';
import type { JaegerTrace } from '../../local-cluster/demo-trace-check.ts';
import { REPO_ROOT } from '../../local-cluster/images/skein-images.ts';
import { DASHBOARDS_DIR } from '../../scripts/gen-dashboards.ts';
import { exampleDeployment, startLocalMesh, type LocalMesh } from '../support/local-mesh.ts';
import { waitFor } from './wait-for.ts';

const NS = 'e2e-obs';
const GRPC_PORT = 9090;
const TCP_PORT = 9000;
const identity = (sa: string): string => `spiffe://cluster.local/ns/${NS}/sa/${sa}`;

// The traffic and what it implies. echo fails exactly `percent` of the requests carrying `status` (examples/echo: spread by a
// counter, not by chance), and one echo replica serves them all, so the counts are exact whatever the concurrency.
const FAILING = { calls: 100, status: 503, percent: 20 } as const;
// Every slow request lands in the (5 s, 10 s] bucket of skein_request_duration_seconds (docs/metrics.md): 6 s of the
// app's own, and up to 4 s of proxies and a loaded machine on top (3 s against a 5 s caller timeout and bucket bound
// failed once on a busy machine); the slow caller waits up to 20 s (UPSTREAM_TIMEOUT_MS). The other caller's requests are
// not delayed: each well under 2.5 s even on a busy machine (the first run saw its p99 at 0.83 s: its first requests set
// up connections and warm the sidecars).
const SLOW = { calls: 20, delayMs: 6000, callerTimeoutMs: 20_000, bucket: { above: 5, upTo: 10 } } as const;
/** The fast caller's requests all end within this (a bucket bound below the slow ones'). */
const FAST_UP_TO = 2.5;

// The PromQL under test, as documented in docs/metrics.md ("The golden signals in PromQL", by caller). Echo's own sidecar
// (inbound) is the server's view; its callers are told apart by their verified identity (one ServiceAccount each).
const ECHO_IN = `direction="inbound", destination_workload="echo", destination_namespace="${NS}"`;
const SUCCESS = 'code!~"5..", grpc_status=~"|OK"';
const Q = {
  // Without rate(): the counters since the pods started, which only this test's traffic moved: exact, where rate() and
  // increase() extrapolate.
  countsByCaller: `sum by (source_identity, code) (skein_requests_total{${ECHO_IN}})`,
  // The client's view of the same requests, from each caller's sidecar (outbound), which knows its own workload.
  countsByCallerWorkload: `sum by (source_workload, code) (skein_requests_total{direction="outbound", destination_workload="echo", source_namespace="${NS}"})`,
  successRateByCaller: `sum by (source_identity) (skein_requests_total{${ECHO_IN}, ${SUCCESS}}) / sum by (source_identity) (skein_requests_total{${ECHO_IN}})`,
  p99ByCaller: `histogram_quantile(0.99, sum by (le, source_identity) (skein_request_duration_seconds_bucket{${ECHO_IN}}))`,
  bucketsByCaller: `sum by (le, source_identity) (skein_request_duration_seconds_bucket{${ECHO_IN}, le=~"2.5|5|5.0|10|10.0"})`,
  // Opaque TCP by serving workload: connections opened and closed, bytes both ways.
  tcpByWorkload: (metric: string): string => `sum by (destination_workload) (skein_tcp_${metric}_total{direction="inbound", destination_namespace="${NS}"})`,
  // ... and by calling workload, as the caller's own sidecar (outbound) saw them.
  tcpByCaller: (metric: string): string => `sum by (source_workload, destination_workload, mtls) (skein_tcp_${metric}_total{direction="outbound", source_namespace="${NS}"})`,
  grpcByStatus: `sum by (code, grpc_status, source_identity, mtls) (skein_requests_total{direction="inbound", destination_workload="grpc-echo", destination_namespace="${NS}"})`,
  grpcByCaller: `sum by (code, grpc_status, destination_workload, mtls) (skein_requests_total{direction="outbound", source_workload="caller", destination_service="grpc-echo.${NS}"})`,
} as const;

function workloads(): k8s.KubernetesObject[] {
  const sa = (name: string): k8s.KubernetesObject => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: NS } });
  const upstream = { UPSTREAM_URL: `http://echo.${NS}.svc.cluster.local` };
  // The caller also makes gRPC calls to grpc-echo and TCP exchanges with echo when asked (examples/caller /grpc and /tcp).
  const meshedClients = { GRPC_UPSTREAM: `grpc-echo.${NS}.svc.cluster.local:${GRPC_PORT}`, TCP_UPSTREAM: `echo.${NS}.svc.cluster.local:${TCP_PORT}` };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'skein.dev/inject': 'enabled' } } },
    sa('caller'),
    sa('slow-caller'),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: NS }, spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'tcp-echo', port: TCP_PORT, targetPort: TCP_PORT }] } } as k8s.KubernetesObject,
    // Port name `grpc`: the control plane gives its clusters HTTP/2 (control-plane/translation).
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'grpc-echo', namespace: NS }, spec: { selector: { app: 'grpc-echo' }, ports: [{ name: 'grpc', port: GRPC_PORT, targetPort: GRPC_PORT }] } } as k8s.KubernetesObject,
    exampleDeployment({ namespace: NS, name: 'echo', app: 'echo', tcpPort: TCP_PORT }),
    exampleDeployment({ namespace: NS, name: 'caller', app: 'caller', env: { ...upstream, ...meshedClients }, serviceAccountName: 'caller' }),
    exampleDeployment({ namespace: NS, name: 'slow-caller', app: 'caller', env: { ...upstream, UPSTREAM_TIMEOUT_MS: String(SLOW.callerTimeoutMs) }, serviceAccountName: 'slow-caller' }),
    exampleDeployment({ namespace: NS, name: 'grpc-echo', app: 'grpc-echo', port: GRPC_PORT }),
  ];
}

interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

describe('observability on the real node: Prometheus and Jaeger', () => {
  let mesh: LocalMesh;
  const podIps = new Map<string, string>();
  const lines: string[] = [];

  async function query(q: string): Promise<PromSample[]> {
    const r = await fetch(`${mesh.prometheus!.url}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(10_000) });
    const doc = (await r.json()) as { status?: string; error?: string; data?: { result?: PromSample[] } };
    if (doc.status !== 'success') throw new Error(`${q}: ${doc.error ?? doc.status}`);
    return doc.data?.result ?? [];
  }

  /** The query's samples as `<label values, joined by space> -> value`, over the labels `by`. */
  async function byLabels(q: string, by: readonly string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    // `le` as a number: Prometheus 3 writes the bucket bound "1" as "1.0".
    for (const s of await query(q)) out[by.map((l) => (l === 'le' ? String(Number(s.metric[l])) : (s.metric[l] ?? ''))).join(' ')] = Number(s.value[1]);
    return out;
  }

  /**
   * Queries until the answer equals `want` (Prometheus scrapes every 5 s: local-cluster/addons/prometheus.ts), else fails
   * with the last answer.
   */
  async function untilEqual(q: string, by: readonly string[], want: Record<string, number>, timeoutMs = 60_000): Promise<void> {
    let last: Record<string, number> = {};
    await waitFor(`${q} to be ${JSON.stringify(want)}`, async () => {
      last = await byLabels(q, by);
      if (JSON.stringify(Object.entries(last).sort()) === JSON.stringify(Object.entries(want).sort())) return true;
      throw new Error(`last answer ${JSON.stringify(last)}`);
    }, timeoutMs, 1000);
  }

  /** `count` requests host -> a caller pod -> its outbound sidecar -> echo's ClusterIP -> echo's sidecar, `concurrency` at a time. */
  async function calls(caller: string, path: string, count: number, concurrency: number): Promise<number[]> {
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const res = await fetch(`http://${podIps.get(caller)}:8080${path}`, { signal: AbortSignal.timeout(SLOW.callerTimeoutMs + 10_000) });
        const doc = (await res.json()) as { upstreamStatus?: number; error?: string };
        // Anything but an answer from echo would make the expected counts wrong: fail now, naming it.
        if (res.status !== 200 || doc.upstreamStatus === undefined) throw new Error(`${caller}${path} answered ${res.status}: ${JSON.stringify(doc)}`);
        statuses.push(doc.upstreamStatus);
      }
    }));
    return statuses;
  }

  beforeAll(async () => {
    const t0 = Date.now();
    // New traces are not sampled (0 %): only requests whose caller asks (a sampled traceparent) make spans, so the test's
    // HTTP traffic costs no export; the gRPC call below asks.
    mesh = await startLocalMesh({ node: 'kubelet', observability: { samplingPercent: 0 }, log: (l) => lines.push(l) });
    await mesh.deploy(workloads());
    for (const app of ['caller', 'slow-caller', 'grpc-echo', 'echo']) {
      const pod = await waitFor(`the ${app} pod's IP`, async () => (await mesh.core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` })).items.find((p) => p.status?.podIP));
      podIps.set(app, pod.status!.podIP!);
    }
    // The callers reach echo by its ClusterIP, which only their sidecars route (from the control plane's discovery).
    const synced = await checkControlPlane(mesh.kc, NS, 120_000);
    expect(synced.status, synced.detail).toBe('pass');
    console.log(`observability e2e: mesh, Prometheus, Jaeger and workloads ready in ${Math.round((Date.now() - t0) / 1000)} s`);
  }, 900_000);

  afterAll(async () => {
    await mesh?.stop();
  });

  it('echo\'s request counts, success rate and p99 latency by caller are what the injected failures and delays imply', async () => {
    // Nothing has called echo yet: the counters below are this test's traffic and nothing else.
    expect(await byLabels(Q.countsByCaller, ['source_identity', 'code'])).toEqual({});
    const [failing, slow] = await Promise.all([
      calls('caller', `/fail?status=${FAILING.status}&percent=${FAILING.percent}`, FAILING.calls, 4),
      calls('slow-caller', `/slow?delayMs=${SLOW.delayMs}`, SLOW.calls, SLOW.calls),
    ]);
    const seen5xx = failing.filter((s) => s === FAILING.status).length;
    expect(seen5xx).toBe((FAILING.calls * FAILING.percent) / 100);
    expect(failing.filter((s) => s !== FAILING.status).every((s) => s === 200)).toBe(true);
    expect(slow.every((s) => s === 200)).toBe(true);

    // Exact counts, as echo's sidecar saw them: the 5xx the test saw, the rest 200, by caller identity.
    const want = {
      [`${identity('caller')} ${FAILING.status}`]: seen5xx,
      [`${identity('caller')} 200`]: FAILING.calls - seen5xx,
      [`${identity('slow-caller')} 200`]: SLOW.calls,
    };
    await untilEqual(Q.countsByCaller, ['source_identity', 'code'], want);
    // ... and as each caller's own sidecar saw them.
    await untilEqual(Q.countsByCallerWorkload, ['source_workload', 'code'], {
      [`caller ${FAILING.status}`]: seen5xx,
      'caller 200': FAILING.calls - seen5xx,
      'slow-caller 200': SLOW.calls,
    });

    // Success rate by caller.
    expect(await byLabels(Q.successRateByCaller, ['source_identity'])).toEqual({
      [identity('caller')]: (FAILING.calls - seen5xx) / FAILING.calls,
      [identity('slow-caller')]: 1,
    });

    // p99 latency by caller: every slow request in the bucket its delay puts it in, none of the others (all of the fast
    // caller's within FAST_UP_TO).
    expect(await byLabels(Q.bucketsByCaller, ['source_identity', 'le'])).toEqual({
      [`${identity('caller')} ${FAST_UP_TO}`]: FAILING.calls,
      [`${identity('caller')} ${SLOW.bucket.above}`]: FAILING.calls,
      [`${identity('caller')} ${SLOW.bucket.upTo}`]: FAILING.calls,
      [`${identity('slow-caller')} ${FAST_UP_TO}`]: 0,
      [`${identity('slow-caller')} ${SLOW.bucket.above}`]: 0,
      [`${identity('slow-caller')} ${SLOW.bucket.upTo}`]: SLOW.calls,
    });
    const p99 = await byLabels(Q.p99ByCaller, ['source_identity']);
    console.log(`observability e2e: p99 by caller ${JSON.stringify(p99)}`);
    expect(p99[identity('slow-caller')]).toBeGreaterThan(SLOW.bucket.above);
    expect(p99[identity('slow-caller')]).toBeLessThanOrEqual(SLOW.bucket.upTo);
    expect(p99[identity('caller')]).toBeLessThanOrEqual(FAST_UP_TO);
  });

  /** GET on the caller app (examples/caller), from this machine to its pod IP; its JSON answer. */
  async function callerGet<T>(path: string, headers: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`http://${podIps.get('caller')}:8080${path}`, { headers, signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`caller${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  type Span = JaegerTrace['spans'][number] & { readonly tags?: readonly { readonly key: string; readonly value: unknown }[] };
  type Trace = Omit<JaegerTrace, 'spans'> & { readonly spans: readonly Span[] };
  const tagsOf = (span: Span): Record<string, unknown> => Object.fromEntries((span.tags ?? []).map((t) => [t.key, t.value]));
  const parentOf = (span: Span): string | undefined => span.references?.find((r) => r.refType === 'CHILD_OF')?.spanID;

  /** The trace once Jaeger has a span of `service` whose operation starts with `operation` (and any others asked for). */
  async function traceWith(traceId: string, wanted: readonly { service: string; operation: string }[]): Promise<Trace> {
    let last = 'Jaeger has no such trace';
    return waitFor(`trace ${traceId} in Jaeger with ${JSON.stringify(wanted)}`, async () => {
      const r = await fetch(`${mesh.jaeger!.queryUrl}/api/traces/${traceId}`, { signal: AbortSignal.timeout(5000) });
      const t = r.ok ? ((await r.json()) as { data?: Trace[] }).data?.[0] : undefined;
      if (t) last = `spans: ${t.spans.map((x) => `${t.processes[x.processID]?.serviceName} ${x.operationName}`).join(', ')}`;
      if (t && wanted.every((w) => t.spans.some((x) => x.operationName.startsWith(w.operation) && t.processes[x.processID]?.serviceName === w.service))) return t;
      throw new Error(last);
    }, 60_000, 1000);
  }
  const spanOf = (t: Trace, service: string, operation: string): Span =>
    t.spans.find((x) => x.operationName.startsWith(operation) && t.processes[x.processID]?.serviceName === service)!;

  it('a gRPC call failing with NOT_FOUND shows grpc_status NOT_FOUND in Prometheus and on its spans, from outside the mesh and from a meshed caller over mTLS', async () => {
    const def = protoLoader.loadSync(join(REPO_ROOT, 'examples', 'grpc-echo', 'echo.proto'), { keepCase: true });
    type Say = (req: { message: string }, md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void) => void;
    const pkg = grpc.loadPackageDefinition(def) as unknown as { skein: { examples: { Echo: new (t: string, c: grpc.ChannelCredentials) => grpc.Client & { Say: Say } } } };
    // From this machine to the pod's IP: its inbound sidecar takes the call (plain text from outside the mesh).
    const client = new pkg.skein.examples.Echo(`${podIps.get('grpc-echo')}:${GRPC_PORT}`, grpc.credentials.createInsecure());
    const traceId = randomBytes(16).toString('hex');
    const rootSpanId = randomBytes(8).toString('hex');
    const say = (failWith: number | null, traceparent?: string): Promise<grpc.ServiceError | null> => {
      const md = new grpc.Metadata();
      if (failWith !== null) md.set('fail-with', String(failWith));
      if (traceparent) md.set('traceparent', traceparent);
      return new Promise((resolve) => client.Say({ message: 'observability' }, md, (e) => resolve(e)));
    };
    try {
      expect(await say(null)).toBeNull();
      // Sampled by its caller: the mesh's own sampling is 0 %, so the span exists only because the flag is honoured.
      const err = await say(grpc.status.NOT_FOUND, `00-${traceId}-${rootSpanId}-01`);
      expect(err?.code).toBe(grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
    // From the meshed caller: its app calls grpc-echo's Service, its outbound sidecar takes the call to grpc-echo's over mTLS.
    const meshedTrace = randomBytes(16).toString('hex');
    const meshedRoot = randomBytes(8).toString('hex');
    const meshed = await callerGet<{ grpcCode: number }>(`/grpc?failWith=${grpc.status.NOT_FOUND}`, { traceparent: `00-${meshedTrace}-${meshedRoot}-01` });
    expect(meshed.grpcCode).toBe(grpc.status.NOT_FOUND);

    // The HTTP/2 answer is 200 whatever the call's outcome; the gRPC status is its own label. grpc-echo's sidecar tells the
    // plain callers from the meshed one by its verified identity over mTLS ...
    // A caller without an identity is `unknown` (docs/metrics.md).
    await untilEqual(Q.grpcByStatus, ['code', 'grpc_status', 'source_identity', 'mtls'], {
      '200 OK unknown false': 1,
      '200 NOT_FOUND unknown false': 1,
      [`200 NOT_FOUND ${identity('caller')} true`]: 1,
    });
    // ... and the caller's own sidecar counts its call to grpc-echo, over mTLS, as NOT_FOUND.
    await untilEqual(Q.grpcByCaller, ['code', 'grpc_status', 'destination_workload', 'mtls'], { '200 NOT_FOUND grpc-echo true': 1 });

    const t = await traceWith(traceId, [{ service: `grpc-echo.${NS}`, operation: 'inbound ' }]);
    const span = spanOf(t, `grpc-echo.${NS}`, 'inbound ');
    const tags = tagsOf(span);
    expect(tags['rpc.system']).toBe('grpc');
    expect(tags['rpc.grpc.status_code']).toBe(grpc.status.NOT_FOUND);
    expect(tags['skein.grpc.status']).toBe('NOT_FOUND');
    // A child of the call's own span: the caller's traceparent was honoured, not replaced.
    expect(parentOf(span)).toBe(rootSpanId);

    // The meshed call: the caller's outbound span and grpc-echo's inbound span both say NOT_FOUND; the server span is a child
    // of the caller's attempt, itself a child of the caller's outbound span.
    const m = await traceWith(meshedTrace, [{ service: `caller.${NS}`, operation: 'outbound ' }, { service: `grpc-echo.${NS}`, operation: 'inbound ' }]);
    const out = spanOf(m, `caller.${NS}`, 'outbound ');
    const server = spanOf(m, `grpc-echo.${NS}`, 'inbound ');
    for (const s of [out, server]) {
      expect(tagsOf(s)['rpc.grpc.status_code'], s.operationName).toBe(grpc.status.NOT_FOUND);
      expect(tagsOf(s)['skein.grpc.status'], s.operationName).toBe('NOT_FOUND');
    }
    expect(tagsOf(server)['skein.peer.identity']).toBe(identity('caller'));
    const attempt = m.spans.find((x) => x.spanID === parentOf(server));
    expect(attempt && m.processes[attempt.processID]?.serviceName).toBe(`caller.${NS}`);
    expect(parentOf(attempt!)).toBe(out.spanID);
  });

  it('opaque TCP to echo is counted by workload on both sides: connections opened and closed, bytes both ways', async () => {
    // From this machine to echo's TCP echo at its pod IP, through its inbound sidecar (not HTTP: forwarded as TCP).
    const exchange = (bytes: number): Promise<number> =>
      new Promise((resolve, reject) => {
        const payload = Buffer.alloc(bytes, '>');
        let got = 0;
        const socket = connect({ host: podIps.get('echo')!, port: TCP_PORT }, () => socket.write(payload));
        socket.setTimeout(15_000, () => socket.destroy(new Error(`no echo of ${bytes} bytes after 15 s (got ${got})`)));
        socket.on('data', (c: Buffer) => {
          got += c.length;
          if (got >= bytes) socket.end();
        });
        socket.on('error', reject);
        socket.on('close', () => resolve(got));
      });
    const sizes = [100, 5000, 70_000];
    expect(await Promise.all(sizes.map(exchange))).toEqual(sizes);
    // From the meshed caller to echo's Service: out through the caller's sidecar, over mTLS, in through echo's.
    const meshedSizes = [2000, 30_000];
    for (const bytes of meshedSizes) expect(await callerGet<{ received: number }>(`/tcp?bytes=${bytes}`)).toMatchObject({ received: bytes });
    const total = [...sizes, ...meshedSizes].reduce((a, b) => a + b, 0);
    const meshedTotal = meshedSizes.reduce((a, b) => a + b, 0);
    await untilEqual(Q.tcpByWorkload('connections_opened'), ['destination_workload'], { echo: sizes.length + meshedSizes.length });
    await untilEqual(Q.tcpByWorkload('connections_closed'), ['destination_workload'], { echo: sizes.length + meshedSizes.length });
    // Received from the client and sent back to it: the echo makes them equal, and each is every byte sent.
    await untilEqual(Q.tcpByWorkload('received_bytes'), ['destination_workload'], { echo: total });
    await untilEqual(Q.tcpByWorkload('sent_bytes'), ['destination_workload'], { echo: total });
    // The caller's side: only its own exchanges, to echo, over mTLS.
    const by = ['source_workload', 'destination_workload', 'mtls'];
    await untilEqual(Q.tcpByCaller('connections_opened'), by, { 'caller echo true': meshedSizes.length });
    await untilEqual(Q.tcpByCaller('connections_closed'), by, { 'caller echo true': meshedSizes.length });
    await untilEqual(Q.tcpByCaller('received_bytes'), by, { 'caller echo true': meshedTotal });
    await untilEqual(Q.tcpByCaller('sent_bytes'), by, { 'caller echo true': meshedTotal });
  });

  // Last: the traffic of the tests above (failures, delays, gRPC statuses, TCP both ways) is what the panels show.
  it('every query of the shipped dashboards returns a series from this mesh\'s Prometheus', async () => {
    const queries = dashboardQueries(DASHBOARDS_DIR);
    expect(queries.length).toBeGreaterThan(50);
    let last: { problems: string[]; empty: string[] } = { problems: [], empty: [] };
    // Every scrape job up first: a job that is down empties its panels for a reason that is not the dashboards'.
    await waitFor('every mesh scrape job up', async () => {
      const up = await query('up');
      const down = MESH_SCRAPE_JOBS.filter((job) => !up.some((s) => s.metric.job === job) || up.some((s) => s.metric.job === job && s.value[1] !== '1'));
      if (down.length === 0) return true;
      throw new Error(`not up: ${down.join(', ')}`);
    }, 60_000, 1000);
    // rate() needs two scrapes in its window: a series made by the last test may take one scrape interval (5 s) more.
    await waitFor('every dashboard query to return a series', async () => {
      last = await dashboardProblems(mesh.prometheus!.url, queries);
      if (last.problems.length === 0 && last.empty.length === 0) return true;
      throw new Error(JSON.stringify(last));
    }, 60_000, 5000).catch(() => undefined);
    expect(last.problems).toEqual([]);
    expect(last.empty).toEqual([]);
  });
});
