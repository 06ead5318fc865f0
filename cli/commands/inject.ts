// `skein inject -f FILE`: adds the Skein sidecar to manifests without the webhook (the same mutation the webhook applies).
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { parseAllDocuments, stringify } from 'yaml';
import { CliError } from '../cli-error.ts';
import { injectPod } from '../../injector/inject-pod.ts';
import { formatProblems } from '../../injector/injection-problem.ts';
import { DEFAULT_MESH_SETTINGS, LOG_LEVELS, meshSettings, parseTraceSettings, type LogLevel, type MeshSettings } from '../../injector/mesh-settings.ts';
import { isPlainObject, type Pod } from '../../injector/pod-types.ts';

/** Kinds whose pod template gets injected, and where the template sits. */
const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export interface InjectManifestsOptions {
  readonly settings: MeshSettings;
  /** Namespace for objects that name none (as kubectl's current namespace would be). */
  readonly namespace?: string;
  /** When given, pods are injected only if these labels (or the pod itself) enable it; by default the user's intent is to inject. */
  readonly namespaceLabels?: Readonly<Record<string, string>>;
}

export interface InjectManifestsResult {
  readonly output: string;
  /** One line per object that was left as it was, and why. */
  readonly notes: readonly string[];
  readonly injected: number;
}

function describeObject(obj: Record<string, unknown>, index: number): string {
  const meta = isPlainObject(obj.metadata) ? obj.metadata : {};
  return `document ${index + 1} (${String(obj.kind ?? 'unknown kind')} ${String(meta.name ?? meta.generateName ?? '<unnamed>')})`;
}

interface Walk {
  injected: number;
  notes: string[];
}

/** Injects into one object (recursing into List items); returns the new object or the same one when nothing changed. */
function injectObject(obj: unknown, where: string, opts: InjectManifestsOptions, walk: Walk): unknown {
  if (!isPlainObject(obj) || typeof obj.kind !== 'string') return obj;
  if (obj.kind === 'List' && Array.isArray(obj.items)) {
    const items = obj.items.map((item, i) => injectObject(item, `${where} item ${i + 1}`, opts, walk));
    return items.every((item, i) => item === (obj.items as unknown[])[i]) ? obj : { ...obj, items };
  }
  const meta = isPlainObject(obj.metadata) ? obj.metadata : {};
  const namespace = { name: typeof meta.namespace === 'string' ? meta.namespace : (opts.namespace ?? 'default'), labels: opts.namespaceLabels };
  if (obj.kind === 'Pod') {
    if (obj.apiVersion !== undefined && obj.apiVersion !== 'v1') return obj;
    return applyOutcome(obj, injectPod(obj, namespace, opts.settings), where, walk) ?? obj;
  }
  const path = TEMPLATE_PATHS[obj.kind];
  if (!path) return obj;
  // Walk to the template, copying each level on the way so the input stays untouched.
  const parents: Record<string, unknown>[] = [obj];
  for (const key of path) {
    const next = parents[parents.length - 1]![key];
    if (!isPlainObject(next)) {
      walk.notes.push(`${where}: no ${path.join('.')}; left unchanged`);
      return obj;
    }
    parents.push(next);
  }
  const template = parents[parents.length - 1]!;
  const pod: Pod = { ...(template.metadata !== undefined ? { metadata: template.metadata as Pod['metadata'] } : {}), spec: template.spec as Pod['spec'] };
  const injected = applyOutcome(pod, injectPod(pod, namespace, opts.settings), where, walk);
  if (!injected) return obj;
  let rebuilt: Record<string, unknown> = { ...template, metadata: injected.metadata, spec: injected.spec };
  for (let i = path.length - 1; i >= 0; i--) rebuilt = { ...parents[i]!, [path[i]!]: rebuilt };
  return rebuilt;
}

function applyOutcome(_pod: unknown, outcome: ReturnType<typeof injectPod>, where: string, walk: Walk): Pod | null {
  switch (outcome.kind) {
    case 'injected':
      walk.injected++;
      for (const w of outcome.warnings) walk.notes.push(`${where}: warning: ${w}`);
      return outcome.pod;
    case 'skipped':
      walk.notes.push(`${where}: ${outcome.message}`);
      return null;
    case 'invalid':
      throw new CliError(`${where}: invalid injection settings: ${formatProblems(outcome.problems)}`);
  }
}

export function injectManifests(text: string, opts: InjectManifestsOptions): InjectManifestsResult {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) return { output: text, notes: [], injected: 0 }; // empty input
  const walk: Walk = { injected: 0, notes: [] };
  const out: string[] = [];
  docs.forEach((doc, index) => {
    const e = doc.errors[0];
    if (e) {
      const pos = e.linePos?.[0];
      throw new CliError(`document ${index + 1}${pos ? ` (line ${pos.line}:${pos.col})` : ''}: not valid YAML: ${e.message.split('\n')[0]}`);
    }
    const obj: unknown = doc.toJS({ maxAliasCount: 100 });
    if (obj === null || obj === undefined) return;
    const where = isPlainObject(obj) ? describeObject(obj, index) : `document ${index + 1}`;
    const result = injectObject(obj, where, opts, walk);
    // Untouched documents keep their text, comments included.
    out.push(result === obj ? String(doc).replace(/^---\n/, '') : stringify(result, { lineWidth: 0, aliasDuplicateObjects: false }));
  });
  return { output: out.map((d) => (d.endsWith('\n') ? d : `${d}\n`)).join('---\n'), notes: walk.notes, injected: walk.injected };
}

async function readInput(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--namespace-labels: "${pair}" is not key=value`, 2);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

interface InjectCliOptions {
  filename: string;
  namespace?: string;
  namespaceLabels?: string;
  nativeSidecars: string;
  controlPlaneAddress: string;
  logLevel: string;
  image: string;
  traceCollector?: string;
  traceSamplingPercent?: string;
}

export function registerInjectCommand(program: Command): void {
  program
    .command('inject')
    .description('add the Skein sidecar to Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs in a YAML file')
    .requiredOption('-f, --filename <file>', 'multi-document YAML file, or - for stdin')
    .option('-n, --namespace <name>', 'namespace of objects that name none', 'default')
    .option('--namespace-labels <k=v,...>', "that namespace's labels: inject only if they (or the pod) enable it")
    .option('--native-sidecars <bool>', 'proxy as a native sidecar (Kubernetes >= 1.29): true | false', String(DEFAULT_MESH_SETTINGS.nativeSidecars))
    .option('--control-plane-address <host:port>', 'control plane address given to sidecars', DEFAULT_MESH_SETTINGS.controlPlaneAddress)
    .option('--log-level <level>', `default sidecar log level (${LOG_LEVELS.join(', ')})`, DEFAULT_MESH_SETTINGS.logLevel)
    .option('--image <image>', 'sidecar and init container image', DEFAULT_MESH_SETTINGS.image)
    .option('--trace-collector <url>', "collector every sidecar exports spans to (OTLP/HTTP traces URL, e.g. Jaeger's http://<host>:4318/v1/traces)")
    .option('--trace-sampling-percent <n>', 'mesh default share (0-100) of new traces sampled (default 1; a TrafficPolicy overrides it per Service)')
    .action(async (opts: InjectCliOptions) => {
      if (opts.nativeSidecars !== 'true' && opts.nativeSidecars !== 'false') throw new CliError('--native-sidecars must be true or false', 2);
      if (!(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`, 2);
      const tracing = parseTraceSettings(opts.traceCollector, opts.traceSamplingPercent);
      if (!tracing.ok) throw new CliError(tracing.error, 2);
      const text = await readInput(opts.filename);
      const result = injectManifests(text, {
        settings: meshSettings({ nativeSidecars: opts.nativeSidecars === 'true', controlPlaneAddress: opts.controlPlaneAddress, logLevel: opts.logLevel as LogLevel, image: opts.image, ...tracing.value }),
        namespace: opts.namespace,
        ...(opts.namespaceLabels !== undefined ? { namespaceLabels: parseLabels(opts.namespaceLabels) } : {}),
      });
      process.stdout.write(result.output);
      for (const n of result.notes) process.stderr.write(`skein inject: ${n}\n`);
    });
}
