// `skein inject`: every workload kind, pass-through of the rest, errors, and equality with what the webhook produces.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { podAdmissionReview } from '../../injector/admission-review-fixture.ts';
import { applyJsonPatch } from '../../injector/json-patch.ts';
import { meshSettings } from '../../injector/mesh-settings.ts';
import { createWebhookServer } from '../../injector/webhook-server.ts';
import { createCertificateAuthority, issueServingCertificate } from '../../injector/serving-cert.ts';
import { CliError } from '../cli-error.ts';
import { injectManifests } from './inject.ts';

const settings = meshSettings();
const container = { name: 'app', image: 'skein.dev/example-web:1', ports: [{ containerPort: 8080 }], readinessProbe: { httpGet: { path: '/ready', port: 8080 } } };
const podSpec = { containers: [container] };
const tmpl = { metadata: { labels: { app: 'web' } }, spec: podSpec };

const manifests = `# the app
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  template: ${JSON.stringify(tmpl)}
---
# a Service passes through untouched, comment and all
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { ports: [{ port: 80 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: solo }
spec: ${JSON.stringify(podSpec)}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec: { template: ${JSON.stringify(tmpl)} }
---
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent }
spec: { template: ${JSON.stringify(tmpl)} }
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: rs }
spec: { template: ${JSON.stringify(tmpl)} }
---
apiVersion: batch/v1
kind: Job
metadata: { name: once }
spec: { template: { spec: { restartPolicy: Never, containers: [{ name: job, image: x }] } } }
---
apiVersion: batch/v1
kind: CronJob
metadata: { name: nightly }
spec: { schedule: "0 0 * * *", jobTemplate: { spec: { template: { spec: { restartPolicy: OnFailure, containers: [{ name: job, image: x }] } } } } }
---
apiVersion: v1
kind: List
items:
  - { apiVersion: v1, kind: Pod, metadata: { name: in-list }, spec: ${JSON.stringify(podSpec)} }
  - { apiVersion: v1, kind: ConfigMap, metadata: { name: cm }, data: { a: b } }
`;

type Obj = Record<string, any>;
const initNames = (spec: Obj) => (spec.initContainers ?? []).map((c: Obj) => c.name);

describe('injectManifests', () => {
  const result = injectManifests(manifests, { settings });
  const docs = parseAllDocuments(result.output).map((d) => d.toJS() as Obj);

  it('injects every workload kind and passes other kinds through', () => {
    expect(docs.map((d) => d.kind)).toEqual(['Deployment', 'Service', 'Pod', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'List']);
    const specs = [docs[0]!.spec.template.spec, docs[2]!.spec, docs[3]!.spec.template.spec, docs[4]!.spec.template.spec, docs[5]!.spec.template.spec,
      docs[6]!.spec.template.spec, docs[7]!.spec.jobTemplate.spec.template.spec, docs[8]!.items[0].spec];
    for (const s of specs) expect(initNames(s)).toEqual(['skein-init', 'skein-proxy']);
    expect(result.injected).toBe(8);
    expect(docs[8]!.items[1]).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { a: 'b' } });
    expect(result.output).toContain('# a Service passes through untouched, comment and all');
    expect(docs[0]!.spec.template.metadata.labels).toEqual({ app: 'web', 'skein.dev/injected': 'true' });
    expect(docs[0]!.spec.selector).toEqual({ matchLabels: { app: 'web' } });
  });
  it('is idempotent: a second pass changes nothing', () => {
    const again = injectManifests(result.output, { settings });
    expect(again.injected).toBe(0);
    expect(parseAllDocuments(again.output).map((d) => d.toJS())).toEqual(docs);
  });
  it('regular-container mode puts the proxy first', () => {
    const r = injectManifests(manifests, { settings: meshSettings({ nativeSidecars: false }) });
    const d = parseAllDocuments(r.output)[0]!.toJS() as Obj;
    expect(d.spec.template.spec.containers.map((c: Obj) => c.name)).toEqual(['skein-proxy', 'app']);
  });
  it('leaves opted-out and kube-system workloads alone, with a note', () => {
    const r = injectManifests(`kind: Pod\napiVersion: v1\nmetadata: { name: a, namespace: kube-system }\nspec: ${JSON.stringify(podSpec)}\n---\nkind: Deployment\napiVersion: apps/v1\nmetadata: { name: b }\nspec: { template: { metadata: { labels: { skein.dev/inject: disabled } }, spec: ${JSON.stringify(podSpec)} } }\n`, { settings });
    expect(r.injected).toBe(0);
    expect(r.notes.join('\n')).toMatch(/Pod a.*kube-system[\s\S]*Deployment b.*disabled/);
  });
  it('honours namespace labels when given', () => {
    const r = injectManifests(`kind: Pod\napiVersion: v1\nmetadata: { name: a }\nspec: ${JSON.stringify(podSpec)}\n`, { settings, namespaceLabels: {} });
    expect(r.injected).toBe(0);
  });
  it('invalid annotations and invalid YAML are CliErrors naming the document', () => {
    expect(() => injectManifests(`kind: Pod\napiVersion: v1\nmetadata: { name: bad, annotations: { skein.dev/proxy-cpu: lots } }\nspec: ${JSON.stringify(podSpec)}\n`, { settings }))
      .toThrow(new CliError('document 1 (Pod bad): invalid injection settings: skein.dev/proxy-cpu: "lots" is not a valid cpu quantity (e.g. "100m" or "1")'));
    expect(() => injectManifests('kind: Pod\n  bad: [\n', { settings })).toThrow(CliError);
  });
});

describe('skein inject agrees with the webhook', () => {
  it('a Deployment injected by the CLI has the pod spec the webhook gives a pod from its template', async () => {
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { matchLabels: { app: 'web' } }, template: tmpl } };
    const cli = parse(injectManifests(JSON.stringify(deployment), { settings }).output) as Obj;

    // What the API server sends when the ReplicaSet controller creates a pod from that template.
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { ...tmpl.metadata, generateName: 'web-5d8f-', namespace: 'shop' }, spec: tmpl.spec };
    const ca = createCertificateAuthority({ commonName: 'ca', validityMs: 3600_000 });
    const leaf = issueServingCertificate(ca, { dnsNames: ['localhost'], validityMs: 3600_000 });
    const ws = await createWebhookServer({ settings, tls: { key: leaf.keyPem, cert: leaf.certPem } });
    const res = await ws.app.inject({ method: 'POST', url: '/mutate', payload: JSON.stringify(podAdmissionReview(pod)), headers: { 'content-type': 'application/json' } });
    await ws.app.close();
    const patch = JSON.parse(Buffer.from(res.json().response.patch, 'base64').toString('utf8'));
    const applied = applyJsonPatch(pod, patch);
    if (!applied.ok) throw new Error(applied.error);
    const webhookPod = applied.value as Obj;
    expect(cli.spec.template.spec).toEqual(webhookPod.spec);
    expect(cli.spec.template.metadata.labels).toEqual(webhookPod.metadata.labels);
    expect(cli.spec.template.metadata.annotations).toEqual(webhookPod.metadata.annotations);
  });
});

describe('skein inject (the command)', () => {
  const bin = join(import.meta.dirname, '../../bin/skein.mjs');
  it('reads stdin, writes YAML to stdout, notes to stderr', () => {
    const r = spawnSync(process.execPath, [bin, 'inject', '-f', '-'], { input: manifests, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(parseAllDocuments(r.stdout)).toHaveLength(9);
    expect(r.stdout).toContain('skein-proxy');
  });
  it('an invalid annotation exits 1 with a message and no stack trace', () => {
    const r = spawnSync(process.execPath, [bin, 'inject', '-f', '-'], { input: 'kind: Pod\napiVersion: v1\nmetadata: { name: p, annotations: { skein.dev/log-level: loud } }\nspec: { containers: [{ name: a }] }\n', encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^skein: document 1 \(Pod p\): invalid injection settings: skein\.dev\/log-level/);
    expect(r.stderr).not.toContain('    at ');
  });
  it('a missing file is a clear error', () => {
    const r = spawnSync(process.execPath, [bin, 'inject', '-f', '/nonexistent.yaml'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cannot read /nonexistent.yaml: ENOENT');
  });
});
