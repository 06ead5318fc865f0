// Writes the Grafana dashboards of manifests/observability/dashboards/ from the compact definitions below
// (`node scripts/gen-dashboards.ts`); a test fails when a file is stale, and the demo's smoke check runs every query
// against a real Prometheus that scraped the demo (local-cluster/dashboard-check.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARDS_DIR = join(import.meta.dirname, '..', 'manifests', 'observability', 'dashboards');

type Unit = 'reqps' | 'percentunit' | 's' | 'short' | 'bytes' | 'ops' | 'percent' | 'cps' | 'Bps';
interface Panel {
  readonly title: string;
  readonly unit: Unit;
  readonly targets: readonly { readonly expr: string; readonly legend?: string }[];
  readonly kind?: 'timeseries' | 'stat';
  readonly description?: string;
}
interface Variable {
  readonly name: string;
  readonly label: string;
  /** `label_values(<selector>, <label>)` */
  readonly query: string;
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly variables: readonly Variable[];
  readonly rows: readonly (readonly Panel[])[];
}

const R = '[$__rate_interval]';
// Server side (inbound) is each workload's own view; a success is not a 5xx and, for gRPC, a status OK (docs/metrics.md).
const IN = 'direction="inbound"';
const OUT = 'direction="outbound"';
const OK = 'code!~"5..",grpc_status=~"|OK"';
const rate = (sel: string, by?: string): string => `sum${by ? ` by (${by})` : ''} (rate(skein_requests_total{${sel}}${R}))`;
const success = (sel: string, by?: string): string => `${rate(`${sel},${OK}`, by)} / ${rate(sel, by)}`;
const quantile = (q: number, sel: string, by?: string, metric = 'skein_request_duration_seconds'): string =>
  `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket{${sel}}${R})))`;
const latency = (sel: string, by?: string, legend = ''): Panel['targets'] =>
  [0.5, 0.95, 0.99].map((q) => ({ expr: quantile(q, sel, by), legend: `${legend}p${q * 100}` }));

// Opaque TCP (docs/metrics.md "TCP metrics"): connections are counted when opened and when closed, bytes when they close.
// `received` is what the client sent, `sent` what it was sent back. Inbound by the serving workload, outbound by the caller.
const tcpRate = (metric: string, sel: string, by: string): string => `sum by (${by}) (rate(skein_tcp_${metric}_total{${sel}}${R}))`;
const TCP_DESCRIPTION = 'Opaque TCP connections (not HTTP or gRPC) through the sidecars: counted when opened and when closed; bytes when a connection closes.';
const tcpConnections = (sel: string, by: string, who: string): Panel['targets'] => [
  { expr: tcpRate('connections_opened', sel, by), legend: `${who} opened` },
  { expr: tcpRate('connections_closed', sel, by), legend: `${who} closed` },
];
const tcpBytes = (sel: string, by: string, who: string): Panel['targets'] => [
  { expr: tcpRate('received_bytes', sel, by), legend: `${who} received` },
  { expr: tcpRate('sent_bytes', sel, by), legend: `${who} sent` },
];

const NS_VAR: Variable = { name: 'namespace', label: 'Namespace', query: `label_values(skein_requests_total{${IN}}, destination_namespace)` };

const dashboards: readonly Dashboard[] = [
  {
    uid: 'skein-mesh',
    title: 'Skein / Mesh overview',
    description: 'Golden signals of every meshed workload (server side), mTLS coverage and the control plane at a glance.',
    variables: [],
    rows: [
      [
        { title: 'Requests', unit: 'reqps', kind: 'stat', targets: [{ expr: rate(IN) }] },
        { title: 'Success rate', unit: 'percentunit', kind: 'stat', targets: [{ expr: success(IN) }] },
        { title: 'p99 latency', unit: 's', kind: 'stat', targets: [{ expr: quantile(0.99, IN) }] },
        { title: 'Requests over mTLS', unit: 'percentunit', kind: 'stat', targets: [{ expr: `${rate(`${IN},mtls="true"`)} / ${rate(IN)}` }] },
        { title: 'Connected proxies', unit: 'short', kind: 'stat', targets: [{ expr: 'sum(skein_cp_proxies_connected)' }] },
      ],
      [
        { title: 'Requests by workload', unit: 'reqps', targets: [{ expr: rate(IN, 'destination_namespace, destination_workload'), legend: '{{destination_namespace}}/{{destination_workload}}' }] },
        { title: 'Success rate by workload', unit: 'percentunit', targets: [{ expr: success(IN, 'destination_namespace, destination_workload'), legend: '{{destination_namespace}}/{{destination_workload}}' }] },
        { title: 'p99 latency by workload', unit: 's', targets: [{ expr: quantile(0.99, IN, 'destination_namespace, destination_workload'), legend: '{{destination_namespace}}/{{destination_workload}}' }] },
      ],
      [
        { title: 'Traffic between workloads (caller -> callee)', unit: 'reqps', targets: [{ expr: rate(OUT, 'source_workload, destination_workload'), legend: '{{source_workload}} -> {{destination_workload}}' }] },
        { title: 'Responses by code', unit: 'reqps', targets: [{ expr: rate(IN, 'code'), legend: '{{code}}' }] },
        { title: 'Proxy CPU', unit: 'percent', description: 'CPU of every sidecar, in % of one core', targets: [{ expr: '100 * sum by (namespace, pod) (rate(skein_proxy_process_cpu_seconds_total[$__rate_interval]))', legend: '{{namespace}}/{{pod}}' }] },
      ],
      [
        { title: 'TCP connections by workload', unit: 'cps', description: `${TCP_DESCRIPTION} As each serving workload's sidecar sees them (inbound).`, targets: tcpConnections(IN, 'destination_namespace, destination_workload', '{{destination_namespace}}/{{destination_workload}}') },
        { title: 'TCP bytes by workload', unit: 'Bps', description: `${TCP_DESCRIPTION} Received: from the callers; sent: back to them.`, targets: tcpBytes(IN, 'destination_namespace, destination_workload', '{{destination_namespace}}/{{destination_workload}}') },
        { title: 'TCP connections opened by caller', unit: 'cps', description: `${TCP_DESCRIPTION} As each calling workload's sidecar sees them (outbound).`, targets: [{ expr: tcpRate('connections_opened', OUT, 'source_namespace, source_workload'), legend: '{{source_namespace}}/{{source_workload}}' }] },
      ],
    ],
  },
  {
    uid: 'skein-service',
    title: 'Skein / Service',
    description: 'One Kubernetes Service: its golden signals as its servers see them, its routes and its callers as their sidecars see them.',
    variables: [NS_VAR, { name: 'service', label: 'Service', query: `label_values(skein_requests_total{${OUT},destination_namespace=~"$namespace"}, destination_service)` }],
    rows: [
      [
        { title: 'Requests', unit: 'reqps', targets: [{ expr: rate(`${OUT},destination_service=~"$service"`, 'destination_service'), legend: '{{destination_service}}' }] },
        { title: 'Success rate', unit: 'percentunit', targets: [{ expr: success(`${OUT},destination_service=~"$service"`, 'destination_service'), legend: '{{destination_service}}' }] },
        { title: 'Latency', unit: 's', targets: latency(`${OUT},destination_service=~"$service"`) },
      ],
      [
        { title: 'Requests by route', unit: 'reqps', targets: [{ expr: rate(`${OUT},destination_service=~"$service"`, 'route'), legend: '{{route}}' }] },
        { title: 'Success rate by route', unit: 'percentunit', targets: [{ expr: success(`${OUT},destination_service=~"$service"`, 'route'), legend: '{{route}}' }] },
        { title: 'p99 latency by route', unit: 's', targets: [{ expr: quantile(0.99, `${OUT},destination_service=~"$service"`, 'route'), legend: '{{route}}' }] },
      ],
      [
        { title: 'Callers', unit: 'reqps', targets: [{ expr: rate(`${OUT},destination_service=~"$service"`, 'source_namespace, source_workload'), legend: '{{source_namespace}}/{{source_workload}}' }] },
        { title: 'Responses by code and gRPC status', unit: 'reqps', targets: [{ expr: rate(`${OUT},destination_service=~"$service"`, 'code, grpc_status'), legend: '{{code}} {{grpc_status}}' }] },
        { title: 'Endpoints answering', unit: 'reqps', targets: [{ expr: rate(`${OUT},destination_service=~"$service"`, 'destination_workload'), legend: '{{destination_workload}}' }] },
      ],
    ],
  },
  {
    uid: 'skein-workload',
    title: 'Skein / Workload',
    description: 'One workload: what it serves (inbound), what it calls (outbound), and the cost of its sidecars.',
    variables: [NS_VAR, { name: 'workload', label: 'Workload', query: `label_values(skein_requests_total{${IN},destination_namespace=~"$namespace"}, destination_workload)` }],
    rows: [
      [
        { title: 'Inbound requests', unit: 'reqps', targets: [{ expr: rate(`${IN},destination_namespace=~"$namespace",destination_workload=~"$workload"`, 'source_workload'), legend: 'from {{source_workload}}' }] },
        { title: 'Inbound success rate', unit: 'percentunit', targets: [{ expr: success(`${IN},destination_namespace=~"$namespace",destination_workload=~"$workload"`) , legend: 'success' }] },
        { title: 'Inbound latency', unit: 's', targets: latency(`${IN},destination_namespace=~"$namespace",destination_workload=~"$workload"`) },
      ],
      [
        { title: 'Outbound requests', unit: 'reqps', targets: [{ expr: rate(`${OUT},source_namespace=~"$namespace",source_workload=~"$workload"`, 'destination_service'), legend: 'to {{destination_service}}' }] },
        { title: 'Outbound success rate', unit: 'percentunit', targets: [{ expr: success(`${OUT},source_namespace=~"$namespace",source_workload=~"$workload"`, 'destination_service'), legend: 'to {{destination_service}}' }] },
        { title: 'Outbound p99 latency', unit: 's', targets: [{ expr: quantile(0.99, `${OUT},source_namespace=~"$namespace",source_workload=~"$workload"`, 'destination_service'), legend: 'to {{destination_service}}' }] },
      ],
      [
        { title: 'Inbound request and response size (p50)', unit: 'bytes', targets: [
          { expr: quantile(0.5, `${IN},destination_namespace=~"$namespace",destination_workload=~"$workload"`, undefined, 'skein_request_size_bytes'), legend: 'request' },
          { expr: quantile(0.5, `${IN},destination_namespace=~"$namespace",destination_workload=~"$workload"`, undefined, 'skein_response_size_bytes'), legend: 'response' },
        ] },
        { title: 'Sidecar CPU', unit: 'percent', targets: [{ expr: '100 * sum by (pod) (rate(skein_proxy_process_cpu_seconds_total{namespace=~"$namespace",pod=~"$workload-.*"}[$__rate_interval]))', legend: '{{pod}}' }] },
        { title: 'Sidecar memory (RSS)', unit: 'bytes', targets: [{ expr: 'sum by (pod) (skein_proxy_process_resident_memory_bytes{namespace=~"$namespace",pod=~"$workload-.*"})', legend: '{{pod}}' }] },
      ],
      [
        { title: 'TCP connections', unit: 'cps', description: TCP_DESCRIPTION, targets: [
          ...tcpConnections(`${IN},destination_namespace=~"$namespace",destination_workload=~"$workload"`, 'direction', 'inbound'),
          ...tcpConnections(`${OUT},source_namespace=~"$namespace",source_workload=~"$workload"`, 'direction', 'outbound'),
        ] },
        { title: 'TCP bytes, inbound', unit: 'Bps', description: `${TCP_DESCRIPTION} Received: from the callers; sent: back to them.`, targets: tcpBytes(`${IN},destination_namespace=~"$namespace",destination_workload=~"$workload"`, 'direction', 'inbound') },
        { title: 'TCP bytes, outbound', unit: 'Bps', description: `${TCP_DESCRIPTION} Received: from this workload's app; sent: back to it.`, targets: tcpBytes(`${OUT},source_namespace=~"$namespace",source_workload=~"$workload"`, 'direction', 'outbound') },
      ],
    ],
  },
  {
    uid: 'skein-control-plane',
    title: 'Skein / Control plane',
    description: 'Config distribution (pushes, ACKs, NACKs), ingestion (informer lag), the identity service and the injector.',
    variables: [],
    rows: [
      [
        { title: 'Connected proxies by replica', unit: 'short', targets: [{ expr: 'sum by (pod) (skein_cp_proxies_connected)', legend: '{{pod}}' }] },
        { title: 'Pushes, ACKs and NACKs', unit: 'ops', targets: [
          { expr: `sum(rate(skein_cp_pushes_total${R}))`, legend: 'pushes' },
          { expr: `sum(rate(skein_cp_acks_total${R}))`, legend: 'ACKs' },
          { expr: `sum by (reason) (rate(skein_cp_nacks_total${R}))`, legend: 'NACK {{reason}}' },
        ] },
        { title: 'Push to ACK latency', unit: 's', targets: [0.5, 0.99].map((q) => ({ expr: quantile(q, 'result="ack"', undefined, 'skein_cp_push_duration_seconds'), legend: `p${q * 100}` })) },
      ],
      [
        { title: 'Streams cut', unit: 'ops', targets: [{ expr: `sum by (reason) (rate(skein_cp_stream_cuts_total${R}))`, legend: '{{reason}}' }] },
        { title: 'Informer lag (p99)', unit: 's', targets: [{ expr: quantile(0.99, '', 'resource', 'skein_cp_informer_lag_seconds'), legend: '{{resource}}' }] },
        { title: 'Watch events', unit: 'ops', targets: [{ expr: `sum by (resource) (rate(skein_cp_informer_events_total${R}))`, legend: '{{resource}}' }] },
      ],
      [
        { title: 'Certificates issued and refused', unit: 'ops', targets: [
          { expr: `sum(rate(skein_cp_certificates_issued_total${R}))`, legend: 'issued' },
          { expr: `sum by (reason) (rate(skein_cp_certificates_rejected_total${R}))`, legend: 'refused {{reason}}' },
        ] },
        { title: 'Certificate issuance p99', unit: 's', targets: [{ expr: quantile(0.99, '', undefined, 'skein_cp_certificate_issuance_seconds'), legend: 'p99' }] },
        { title: 'CA certificate expires in', unit: 's', kind: 'stat', targets: [{ expr: 'min(skein_cp_ca_expiry_timestamp_seconds) - time()' }] },
      ],
      [
        { title: 'Injector admissions', unit: 'ops', targets: [{ expr: `sum by (result) (rate(skein_injector_admissions_total${R}))`, legend: '{{result}}' }] },
        { title: 'Injector webhook latency', unit: 's', targets: [0.5, 0.99].map((q) => ({ expr: quantile(q, '', undefined, 'skein_injector_admission_duration_seconds'), legend: `p${q * 100}` })) },
        { title: 'Informers synced', unit: 'short', targets: [{ expr: 'min by (resource) (skein_cp_informer_synced)', legend: '{{resource}}' }] },
      ],
    ],
  },
];

/** The Grafana JSON model of one dashboard (schemaVersion 39; a `datasource` variable picks the Prometheus). */
export function dashboardJson(d: Dashboard): Record<string, unknown> {
  const ds = { type: 'prometheus', uid: '${datasource}' };
  let id = 1;
  const panels: Record<string, unknown>[] = [];
  d.rows.forEach((row, y) => {
    const w = Math.floor(24 / row.length);
    row.forEach((p, x) => {
      panels.push({
        id: id++,
        type: p.kind ?? 'timeseries',
        title: p.title,
        ...(p.description ? { description: p.description } : {}),
        datasource: ds,
        gridPos: { h: p.kind === 'stat' ? 5 : 8, w, x: x * w, y: y * 8 },
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        targets: p.targets.map((t, i) => ({ datasource: ds, expr: t.expr, legendFormat: t.legend ?? '__auto', refId: String.fromCharCode(65 + i) })),
      });
    });
  });
  const variables = [
    { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus' },
    ...d.variables.map((v) => ({ name: v.name, label: v.label, type: 'query', datasource: ds, query: { query: v.query, refId: 'vars' }, definition: v.query, refresh: 2, includeAll: true, multi: true, allValue: '.*', current: {} })),
  ];
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['skein'],
    schemaVersion: 39,
    editable: true,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: { list: variables },
    panels,
  };
}

/** File name -> text of every dashboard. */
export function dashboardFiles(): Map<string, string> {
  return new Map(dashboards.map((d) => [`${d.uid}.json`, `${JSON.stringify(dashboardJson(d), null, 2)}\n`]));
}

if (process.argv[1] === import.meta.filename) {
  mkdirSync(DASHBOARDS_DIR, { recursive: true });
  for (const [name, text] of dashboardFiles()) writeFileSync(join(DASHBOARDS_DIR, name), text);
  process.stdout.write(`wrote ${dashboardFiles().size} dashboards to ${DASHBOARDS_DIR}\n`);
}
