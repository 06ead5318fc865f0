// e2e: sidecar injection through the real kube-apiserver calling `skein injector` (a host process on loopback, registered
// with a url-based MutatingWebhookConfiguration built from manifests/injector/), on the real node (kubelet + containerd). A
// labelled namespace gets the init container and the sidecar, the init container's iptables rules are in the pod's netns, app
// traffic really crosses the proxies (their metrics show it), opt-out and opt-in work, reinvocation adds nothing, a Job
// completes, both sidecar modes come up, `kubectl exec`/`logs`/`port-forward` work on a meshed pod, a ClusterIP Service and
// its DNS name answer from a meshed and an unmeshed pod, and `skein inject` yields the pod spec the webhook gives.
import * as k8s from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { INJECTION_STATUS_ANNOTATION, SKEIN_IMAGE } from '../../api/mesh/mesh-constants.ts';
import { injectManifests } from '../../cli/commands/inject.ts';
import { meshSettings } from '../../injector/mesh-settings.ts';
import { createCertificateAuthority, issueServingCertificate } from '../../injector/serving-cert.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { freePort } from '../../local-cluster/free-port.ts';
import { SHELL_IMAGE } from '../../local-cluster/images/skein-images.ts';
import { kubectlIn, withPortForward } from './kubectl.ts';
import { inPodNetns } from './pod-netns.ts';
import { waitFor } from './wait-for.ts';

const REPO = join(import.meta.dirname, '../..');
const MESHED = 'e2e-inject';
const PLAIN = 'e2e-inject-plain';
const WEBHOOK_CONFIG = 'skein-injector-e2e';
const TOUCHER_CONFIG = 'zz-e2e-toucher';
const TOUCHED_LABEL = 'e2e.skein.dev/touched';

type Obj = Record<string, any>;

function ready(p: k8s.V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
/** Sum of a counter in Prometheus text whose labels contain all of `labels`. */
function counter(text: string, name: string, labels: readonly string[]): number {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x))).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}
function httpsGet(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpsRequest(url, { ca, servername: 'localhost' }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject).end();
  });
}

/** A second mutating webhook that labels every pod in the meshed namespace: it runs after ours and triggers reinvocation. */
async function startToucher(port: number, ca: ReturnType<typeof createCertificateAuthority>) {
  const leaf = issueServingCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityMs: 3600_000 });
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ https: { key: leaf.keyPem, cert: leaf.certPem } });
  let calls = 0;
  app.post('/touch', async (req) => {
    calls++;
    const review = req.body as Obj;
    const labels = review.request.object.metadata?.labels;
    const patch = labels ? [{ op: 'add', path: `/metadata/labels/${TOUCHED_LABEL.replace('/', '~1')}`, value: 'true' }] : [{ op: 'add', path: '/metadata/labels', value: { [TOUCHED_LABEL]: 'true' } }];
    return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } };
  });
  await app.listen({ host: '127.0.0.1', port });
  return { app, calls: () => calls };
}

describe('sidecar injection on the local cluster', () => {
  let cluster: LocalClusterDetails | undefined;
  let unavailable: string | null = null;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let batch: k8s.BatchV1Api;
  let admission: k8s.AdmissionregistrationV1Api;
  let injector: ChildProcess | undefined;
  let injectorLog = '';
  let injectorPort = 0;
  let toucher: Awaited<ReturnType<typeof startToucher>> | undefined;
  const work = mkdtempSync(join(tmpdir(), 'skein-e2e-inject-'));
  const caFile = join(work, 'injector-ca.pem');
  const clusterLog: string[] = [];

  beforeAll(async () => {
    try {
      cluster = await startLocalCluster({ node: 'kubelet', log: (l) => clusterLog.push(l) });
    } catch (e) {
      unavailable = `local cluster unavailable: ${(e as Error).message}`;
      return;
    }
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    batch = kc.makeApiClient(k8s.BatchV1Api);
    admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);

    // The shipped configuration, pointed at the host process (url clientConfig) instead of the in-cluster Service.
    injectorPort = await freePort('127.0.0.1');
    const shipped = parse(readFileSync(join(REPO, 'manifests/injector/mutating-webhook-configuration.yaml'), 'utf8')) as Obj;
    shipped.metadata.name = WEBHOOK_CONFIG;
    for (const w of shipped.webhooks) {
      w.clientConfig = { url: `https://127.0.0.1:${injectorPort}/mutate` };
      w.namespaceSelector.matchExpressions.push({ key: 'kubernetes.io/metadata.name', operator: 'In', values: [MESHED, PLAIN] });
    }
    await admission.createMutatingWebhookConfiguration({ body: shipped as k8s.V1MutatingWebhookConfiguration });

    injector = spawn(process.execPath, [join(REPO, 'bin/skein.mjs'), 'injector', '--host', '127.0.0.1', '--port', String(injectorPort),
      '--dns-name', 'localhost', '--ip-address', '127.0.0.1', '--webhook-config', WEBHOOK_CONFIG, '--ca-out', caFile], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    injector.stderr!.on('data', (d) => (injectorLog += d));
    await waitFor('the injector to write its caBundle', async () => {
      const c = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK_CONFIG });
      return c.webhooks?.every((w) => (w.clientConfig.caBundle ?? '').length > 0) ? true : undefined;
    }, 60_000);

    const toucherPort = await freePort('127.0.0.1');
    const toucherCa = createCertificateAuthority({ commonName: 'e2e-toucher', validityMs: 3600_000 });
    toucher = await startToucher(toucherPort, toucherCa);
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: TOUCHER_CONFIG },
        webhooks: [{
          name: 'toucher.e2e.skein.dev', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 5, reinvocationPolicy: 'Never',
          clientConfig: { url: `https://127.0.0.1:${toucherPort}/touch`, caBundle: Buffer.from(toucherCa.certPem).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': MESHED } },
        }],
      },
    });

    await core.createNamespace({ body: { metadata: { name: MESHED, labels: { 'skein.dev/inject': 'enabled' } } } });
    await core.createNamespace({ body: { metadata: { name: PLAIN } } });
    for (const ns of [MESHED, PLAIN]) await waitFor(`default ServiceAccount in ${ns}`, async () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
  });

  afterAll(async () => {
    if (injector && injector.exitCode === null) {
      const exited = new Promise((r) => injector!.once('exit', r));
      injector.kill('SIGTERM');
      await exited;
    }
    await toucher?.app.close();
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const echoTemplate = (annotations: Record<string, string> = {}) => ({
    metadata: { labels: { app: 'echo' }, annotations },
    spec: {
      terminationGracePeriodSeconds: 5,
      containers: [{
        name: 'echo', image: 'skein.dev/example-echo:e2e',
        env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
        ports: [{ name: 'http', containerPort: 8080 }],
        securityContext: { runAsUser: 1000, runAsGroup: 1000 },
        readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
      }],
    },
  });
  const readyPods = (ns: string, selector: string, n: number, timeoutMs = 180_000) => waitFor(`${n} Ready pods ${selector} in ${ns}`, async () => {
    const l = await core.listNamespacedPod({ namespace: ns, labelSelector: selector });
    return l.items.length === n && l.items.every(ready) ? l.items : undefined;
  }, timeoutMs);

  let echoPods: k8s.V1Pod[] = [];
  /** What the pod's proxy logged (`kubectl logs -c skein-proxy`, through the kubelet), to explain a failure or check a line. */
  const proxyLog = async (p: k8s.V1Pod): Promise<string> => {
    try {
      const log = await core.readNamespacedPodLog({ name: p.metadata!.name!, namespace: p.metadata!.namespace!, container: 'skein-proxy' });
      return `proxy log of ${p.metadata!.name}:\n${log.split('\n').slice(-15).join('\n')}`;
    } catch (e) {
      return `no proxy log: ${(e as Error).message}`;
    }
  };
  /** The proxy's admin metrics, read inside the pod's network namespace. */
  const proxyMetrics = (pod: k8s.V1Pod): string =>
    inPodNetns(cluster!.realNode!.containerdSocket, pod, ['curl', '-s', '--max-time', '5', 'http://127.0.0.1:15000/metrics']);
  const kubectl = (args: string[], input?: string): Promise<string> => kubectlIn(cluster!)(args, input);

  it('a Deployment in a labelled namespace comes up with skein-init and the native sidecar, probes through the proxy', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    await apps.createNamespacedDeployment({ namespace: MESHED, body: { metadata: { name: 'echo' }, spec: { replicas: 2, selector: { matchLabels: { app: 'echo' } }, template: echoTemplate() } } });
    echoPods = await readyPods(MESHED, 'app=echo', 2);
    for (const p of echoPods) {
      expect(p.spec!.initContainers!.map((c) => c.name)).toEqual(['skein-init', 'skein-proxy']);
      expect(p.spec!.initContainers![1]!.restartPolicy).toBe('Always');
      expect(p.spec!.initContainers![1]!.image).toBe(SKEIN_IMAGE);
      expect(p.spec!.containers.map((c) => c.name)).toEqual(['echo']);
      expect(p.spec!.containers[0]!.readinessProbe!.httpGet).toMatchObject({ path: '/app-health/echo/readyz', port: 15020 });
      expect(p.metadata!.labels!['skein.dev/injected']).toBe('true');
      expect(JSON.parse(p.metadata!.annotations![INJECTION_STATUS_ANNOTATION]!).mode).toBe('native-sidecar');
      expect(p.spec!.volumes!.some((v) => v.name === 'skein-token' && v.projected?.sources?.[0]?.serviceAccountToken?.audience === 'skein.dev/identity')).toBe(true);
      const [init, proxy] = p.status!.initContainerStatuses!;
      expect(init!.state?.terminated?.exitCode).toBe(0);
      expect(proxy!.started).toBe(true);
      // The init container ran our generated script in the pod's network namespace.
      const nat = inPodNetns(cluster!.realNode!.containerdSocket, p, ['iptables-save', '-t', 'nat']);
      expect(nat).toContain('-A SKEIN_OUTPUT -m owner --uid-owner 2102 -j RETURN');
      expect(nat).toContain('-A OUTPUT -p tcp -j SKEIN_OUTPUT');
      expect(nat.match(/-A PREROUTING -p tcp -j SKEIN_INBOUND/g)).toHaveLength(1);
    }
  });

  it('app traffic really crosses both proxies (outbound of the caller, inbound of the echo), app code unchanged', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const target = echoPods[0]!;
    await core.createNamespacedPod({
      namespace: MESHED,
      body: {
        metadata: { name: 'caller', labels: { app: 'caller' } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [{
            name: 'caller', image: 'skein.dev/example-caller:e2e',
            env: [{ name: 'UPSTREAM_URL', value: `http://${target.status!.podIP}:8080/` }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            ports: [{ containerPort: 8080 }],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          }],
        },
      },
    });
    const [caller] = await readyPods(MESHED, 'app=caller', 1);
    const before = counter(proxyMetrics(target), 'skein_requests_total', ['direction="inbound"']);
    const res = await fetch(`http://${caller!.status!.podIP}:8080/through`);
    const text = await res.text();
    if (res.status !== 200) expect.fail(`${res.status} ${text}\n${await proxyLog(caller!)}\n${await proxyLog(target)}`);
    const body = JSON.parse(text) as { pod: string; upstreamStatus: number; upstreamBody: string };
    if (body.upstreamStatus !== 200) expect.fail(`upstream ${body.upstreamStatus} ${body.upstreamBody}\n${await proxyLog(caller!)}\n${await proxyLog(target)}`);
    expect(JSON.parse(body.upstreamBody)).toMatchObject({ pod: target.metadata!.name, url: '/through' });
    const callerMetrics = proxyMetrics(caller!);
    expect(counter(callerMetrics, 'skein_requests_total', ['direction="outbound"'])).toBeGreaterThanOrEqual(1);
    expect(counter(callerMetrics, 'skein_requests_total', ['direction="inbound"'])).toBeGreaterThanOrEqual(1);
    expect(counter(proxyMetrics(target), 'skein_requests_total', ['direction="inbound"'])).toBeGreaterThan(before);
  });

  it('kubectl logs, exec and port-forward work on a meshed pod', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const pod = echoPods[0]!.metadata!.name!;
    expect(await kubectl(['-n', MESHED, 'logs', pod, '-c', 'echo'])).toContain('listening on :8080');
    expect(await kubectl(['-n', MESHED, 'logs', pod, '-c', 'skein-init'])).toContain('SKEIN_OUTPUT');
    expect(await kubectl(['-n', MESHED, 'exec', pod, '-c', 'echo', '--', '/usr/local/bin/node', '-p', 'process.getuid()'])).toBe('1000\n');
    expect(await kubectl(['-n', MESHED, 'exec', '-i', pod, '-c', 'skein-proxy', '--', '/bin/sh', '-c', 'read l; echo "got $l"'], 'hi\n')).toBe('got hi\n');
    expect(await kubectl(['-n', MESHED, 'exec', pod, '-c', 'skein-proxy', '--', '/usr/local/bin/node', '-p', 'process.getuid()'])).toBe('2102\n');
    const r = await withPortForward(cluster!, MESHED, pod, 8080, async (port) => {
      const res = await fetch(`http://127.0.0.1:${port}/through-port-forward`);
      return { status: res.status, body: await res.json() };
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ pod, url: '/through-port-forward' });
  });

  it('a ClusterIP Service answers by IP, short name and DNS name from a meshed and from an unmeshed pod', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const svc = await core.createNamespacedService({ namespace: MESHED, body: { metadata: { name: 'echo' }, spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] } } });
    await core.createNamespacedPod({
      namespace: PLAIN,
      body: { metadata: { name: 'client', labels: { app: 'client' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'client', image: 'skein.dev/example-echo:e2e', ports: [{ containerPort: 8080 }] }] } },
    });
    await readyPods(PLAIN, 'app=client', 1);
    const echoNames = echoPods.map((p) => p.metadata!.name);
    const fetchIn = (ns: string, pod: string, container: string, url: string): Promise<string> =>
      kubectl(['-n', ns, 'exec', pod, '-c', container, '--', '/usr/local/bin/node', '-e',
        `fetch(${JSON.stringify(url)}).then(async (r) => console.log(r.status, await r.text()), (e) => { console.log('ERR', e.cause?.code ?? e.message); process.exit(1); })`]);
    const urls = {
      meshed: [`http://${svc.spec!.clusterIP}:8080/by-ip`, 'http://echo:8080/by-short-name', `http://echo.${MESHED}.svc.cluster.local:8080/by-dns-name`],
      unmeshed: [`http://${svc.spec!.clusterIP}:8080/by-ip`, `http://echo.${MESHED}:8080/by-short-name`, `http://echo.${MESHED}.svc.cluster.local:8080/by-dns-name`],
    };
    for (const [who, ns, pod, container] of [['meshed', MESHED, 'caller', 'caller'], ['unmeshed', PLAIN, 'client', 'client']] as const) {
      for (const url of urls[who]) {
        // kube-proxy programs a new Service within a second or two; a first try may come before it.
        let last = '';
        const out = await waitFor(`${url} from the ${who} pod`, async () => {
          const o = await fetchIn(ns, pod, container, url).catch((e: unknown) => `kubectl exec failed: ${(e as Error).message}`);
          last = o;
          return o.startsWith('200 ') ? o : undefined;
        }, 30_000, 1000).catch((e: unknown) => {
          throw new Error(`${(e as Error).message}; last answer: ${last.slice(0, 500)}`);
        });
        const body = JSON.parse(out.slice(4)) as { pod: string; url: string };
        expect(echoNames, `${who} ${url}`).toContain(body.pod);
        expect(body.url).toBe(new URL(url).pathname);
      }
    }
    // The meshed call went through the caller's sidecar.
    const caller = await core.readNamespacedPod({ name: 'caller', namespace: MESHED });
    expect(counter(proxyMetrics(caller), 'skein_requests_total', ['direction="outbound"'])).toBeGreaterThanOrEqual(4);
  });

  it('reinvocation (a later webhook changed the pod) adds no second sidecar', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const ca = readFileSync(caFile, 'utf8');
    const metrics = await httpsGet(`https://127.0.0.1:${injectorPort}/metrics`, ca);
    for (const p of echoPods) {
      expect(p.metadata!.labels![TOUCHED_LABEL]).toBe('true');
      const names = [...p.spec!.initContainers!, ...p.spec!.containers].map((c) => c.name);
      expect(names.filter((n) => n === 'skein-proxy')).toHaveLength(1);
      expect(names.filter((n) => n === 'skein-init')).toHaveLength(1);
    }
    expect(toucher!.calls()).toBeGreaterThanOrEqual(3);
    // Every touched pod made the API server call us again, and we answered "already injected".
    expect(counter(metrics, 'skein_injector_admissions_total', ['result="skipped"'])).toBeGreaterThanOrEqual(3);
    expect(counter(metrics, 'skein_injector_admissions_total', ['result="injected"'])).toBeGreaterThanOrEqual(3);
  });

  it('opt-out by label or annotation, and opt-in by annotation in an unlabelled namespace', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const pod = (name: string, ns: string, meta: Obj) => core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name, ...meta, labels: { app: name, ...(meta.labels ?? {}) } }, spec: { terminationGracePeriodSeconds: 5, containers: [{ name: 'echo', image: 'skein.dev/example-echo:e2e', ports: [{ containerPort: 8080 }] }] } },
    });
    await pod('out-label', MESHED, { labels: { 'skein.dev/inject': 'disabled' } });
    await pod('out-annotation', MESHED, { annotations: { 'skein.dev/inject': 'disabled' } });
    await pod('in-annotation', PLAIN, { annotations: { 'skein.dev/inject': 'enabled' } });
    await pod('plain', PLAIN, {});
    const names = async (ns: string, name: string) => {
      const p = await core.readNamespacedPod({ name, namespace: ns });
      return [...(p.spec!.initContainers ?? []), ...p.spec!.containers].map((c) => c.name);
    };
    expect(await names(MESHED, 'out-label')).toEqual(['echo']);
    expect(await names(MESHED, 'out-annotation')).toEqual(['echo']);
    expect(await names(PLAIN, 'plain')).toEqual(['echo']);
    expect(await names(PLAIN, 'in-annotation')).toEqual(['skein-init', 'skein-proxy', 'echo']);
    await readyPods(PLAIN, 'app=in-annotation', 1);
    await readyPods(MESHED, 'app=out-label', 1);
  });

  it('invalid skein annotations are refused with the webhook\'s message', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const err = await core.createNamespacedPod({
      namespace: MESHED,
      body: { metadata: { name: 'bad', annotations: { 'skein.dev/proxy-cpu': 'lots' } }, spec: { containers: [{ name: 'echo', image: 'skein.dev/example-echo:e2e' }] } },
    }).then(() => null, (e: unknown) => e as { code?: number; body?: string });
    expect(err?.code).toBe(400);
    expect(String(err?.body)).toContain('skein.dev/proxy-cpu: \\"lots\\" is not a valid cpu quantity');
  });

  it('a Job with the native sidecar completes', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    await batch.createNamespacedJob({
      namespace: MESHED,
      body: { metadata: { name: 'once' }, spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 5, containers: [{ name: 'main', image: SHELL_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo job-done'] }] } } } },
    });
    const job = await waitFor('Job complete', async () => {
      const j = await batch.readNamespacedJob({ name: 'once', namespace: MESHED });
      if (j.status?.failed) throw new Error('the Job failed');
      return j.status?.succeeded === 1 ? j : undefined;
    }, 180_000);
    expect(job.status?.succeeded).toBe(1);
    const [p] = (await core.listNamespacedPod({ namespace: MESHED, labelSelector: 'job-name=once' })).items;
    expect(p!.spec!.initContainers!.map((c) => c.name)).toEqual(['skein-init', 'skein-proxy']);
    expect(p!.status?.phase).toBe('Succeeded');
  });

  it('a Job in regular-container mode completes: the proxy sees the app exit in the shared process namespace', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    await batch.createNamespacedJob({
      namespace: MESHED,
      body: {
        metadata: { name: 'once-regular' },
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { annotations: { 'skein.dev/native-sidecar': 'false' } },
            spec: {
              restartPolicy: 'Never',
              terminationGracePeriodSeconds: 5,
              containers: [{ name: 'main', image: SHELL_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo job-done'] }],
            },
          },
        },
      },
    });
    const job = await waitFor('regular-mode Job complete', async () => {
      const j = await batch.readNamespacedJob({ name: 'once-regular', namespace: MESHED });
      if (j.status?.failed) throw new Error('the Job failed');
      return j.status?.succeeded === 1 ? j : undefined;
    }, 180_000);
    const [p] = (await core.listNamespacedPod({ namespace: MESHED, labelSelector: 'job-name=once-regular' })).items;
    expect(job.status?.succeeded).toBe(1);
    expect(await proxyLog(p!)).toContain('the app exited');
    expect(p!.spec!.containers.map((c) => c.name)).toEqual(['skein-proxy', 'main']);
    expect(p!.spec!.shareProcessNamespace).toBe(true);
    expect(p!.spec!.containers[0]!.env!.find((e) => e.name === 'SKEIN_EXIT_ON_APP_EXIT')?.value).toBe('true');
    expect(p!.status?.containerStatuses?.find((c) => c.name === 'skein-proxy')?.state?.terminated?.exitCode).toBe(0);
  });

  it('regular-container mode (annotation): the proxy is container 0, the app is held until it is ready', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const t = echoTemplate({ 'skein.dev/native-sidecar': 'false' });
    t.metadata.labels = { app: 'echo-regular' };
    await apps.createNamespacedDeployment({ namespace: MESHED, body: { metadata: { name: 'echo-regular' }, spec: { replicas: 1, selector: { matchLabels: { app: 'echo-regular' } }, template: t } } });
    const [p] = await readyPods(MESHED, 'app=echo-regular', 1);
    expect(p!.spec!.containers.map((c) => c.name)).toEqual(['skein-proxy', 'echo']);
    expect(p!.spec!.initContainers!.map((c) => c.name)).toEqual(['skein-init']);
    expect(p!.spec!.containers[0]!.lifecycle?.postStart?.exec?.command?.slice(0, 2)).toEqual(['skein', 'wait-ready']);
    const [proxy, app] = p!.status!.containerStatuses!.sort((a, b) => (a.name === 'skein-proxy' ? -1 : b.name === 'skein-proxy' ? 1 : 0));
    expect(new Date(proxy!.state!.running!.startedAt!).getTime()).toBeLessThanOrEqual(new Date(app!.state!.running!.startedAt!).getTime());
    const res = await fetch(`http://${p!.status!.podIP}:8080/hello`);
    if (res.status !== 200) expect.fail(`${res.status} ${await res.text()}\n${await proxyLog(p!)}`);
    expect(counter(proxyMetrics(p!), 'skein_requests_total', ['direction="inbound"'])).toBeGreaterThanOrEqual(1);
  });

  it('`skein inject` on a Deployment yields the pod spec the webhook produces', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const t = echoTemplate();
    t.metadata.labels = { app: 'echo-cli' };
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'echo-cli', namespace: PLAIN }, spec: { replicas: 1, selector: { matchLabels: { app: 'echo-cli' } }, template: t } };
    const injected = parseAllDocuments(injectManifests(JSON.stringify(deployment), { settings: meshSettings() }).output)[0]!.toJS() as Obj;
    await apps.createNamespacedDeployment({ namespace: PLAIN, body: injected });
    await apps.createNamespacedDeployment({ namespace: MESHED, body: { ...deployment, metadata: { name: 'echo-cli', namespace: MESHED } } });
    const [viaCli] = await readyPods(PLAIN, 'app=echo-cli', 1);
    const [viaWebhook] = await readyPods(MESHED, 'app=echo-cli', 1);
    // What differs by construction: the per-pod API token volume's random name, and the node.
    const comparable = (p: k8s.V1Pod) => {
      const spec = JSON.parse(JSON.stringify(p.spec)) as Obj;
      const isApiToken = (n: string) => n.startsWith('kube-api-access-');
      spec.volumes = spec.volumes.filter((v: Obj) => !isApiToken(v.name));
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) c.volumeMounts = (c.volumeMounts ?? []).filter((m: Obj) => !isApiToken(m.name));
      delete spec.nodeName;
      return spec;
    };
    expect(comparable(viaCli!)).toEqual(comparable(viaWebhook!));
    expect(viaCli!.metadata!.annotations![INJECTION_STATUS_ANNOTATION]).toBe(viaWebhook!.metadata!.annotations![INJECTION_STATUS_ANNOTATION]);
  });

  it('the injector never logged an internal error', (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    expect(injectorLog).not.toMatch(/internal error|unexpected error/);
    expect(injectorLog).toContain(`wrote caBundle`);
  });
});
