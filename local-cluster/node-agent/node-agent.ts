// The Skein node agent: a kubelet for machines without a container engine. It registers a Node, runs the pods bound to it as
// processes in their own network namespaces (see docs/local-cluster-node-agent.md) and reports their status.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoordinationV1Api, CoreV1Api, DiscoveryV1Api, KubeConfig, ListWatch, PatchStrategy, VersionApi, Watch, setHeaderOptions,
  type V1EndpointSlice, type V1Pod, type V1Service,
} from '@kubernetes/client-node';
import { startForwarder, type Forwarder } from './tcp-relay.ts';
import { HostStateFile } from './host-state.ts';
import { hostTools, findBinary, type HostTools } from './host-tools.ts';
import { bridgeName, cleanupHostState, ensureBridge } from './host-network.ts';
import { IpAllocator, cidrSize } from './ip-allocator.ts';
import { KUBELET_PORT, startKubeletServer, type KubeletServer, type LogSource } from './kubelet-server.ts';
import { NodeRegistration } from './node-registration.ts';
import { clusterReader } from './cluster-reader.ts';
import { podEventPoster } from './pod-events.ts';
import { PodRunner, type PodRunnerDeps } from './pod-runner.ts';
import { serviceHostsLines } from './service-hosts.ts';
import { prepareSkeinImage } from './skein-image-prep.ts';
import { PodWorkQueue } from './pod-work-queue.ts';

export interface NodeAgentOptions {
  kubeconfigPath: string;
  nodeName: string;
  podCidr: string;
  workDir: string;
  log?: (line: string) => void;
}

export interface NodeAgent {
  stop(): Promise<void>;
}

/** How long stop() lets a pod's containers shut down before SIGKILL (the whole cluster is going away). */
const STOP_GRACE_SECONDS = 5;

function code(e: unknown): number | undefined {
  return (e as { code?: number }).code;
}

function ensureTools(log: (line: string) => void): HostTools {
  if (!findBinary('ip') || !findBinary('unshare') || !findBinary('setpriv') || !findBinary('iptables')) {
    log('installing missing host tools (ensure-host-tools.sh)');
    execFileSync('sh', [join(import.meta.dirname, 'ensure-host-tools.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return hostTools();
}

function podKey(p: V1Pod): string {
  return `${p.metadata?.namespace}/${p.metadata?.name}`;
}

export async function startNodeAgent(opts: NodeAgentOptions): Promise<NodeAgent> {
  const log = opts.log ?? (() => {});
  const tools = ensureTools(log);
  const kc = new KubeConfig();
  kc.loadFromFile(opts.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const coord = kc.makeApiClient(CoordinationV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const serverUrl = new URL(kc.getCurrentCluster()?.server ?? 'https://127.0.0.1:6443');

  // A crashed previous run of this node leaves namespaces, veths, the bridge and processes: remove exactly those.
  const state = new HostStateFile(opts.nodeName);
  const prev = state.readPrevious();
  if (prev) {
    log(`cleaning up after a previous run (pid ${prev.ownerPid}): ${prev.netns.length} netns, bridge ${prev.bridge ?? '-'}`);
    await cleanupHostState(tools, prev);
  }
  const alloc = new IpAllocator(opts.podCidr);
  const bridge = bridgeName(opts.nodeName);
  state.update((s) => { s.bridge = bridge; });
  // Anything that fails from here on must not leave the bridge (or a half-registered node) behind.
  let forwarder: Forwarder | undefined;
  let registration: NodeRegistration | undefined;
  let kubelet: KubeletServer | undefined;
  let kubeletStarting: Promise<void> | undefined;
  const undoStart = async (): Promise<void> => {
    await forwarder?.close();
    await kubeletStarting;
    await kubelet?.close();
    await registration?.deregister();
    await cleanupHostState(tools, state.data);
    state.remove();
  };
  try {
    return await startAgentOnBridge();
  } catch (e) {
    await undoStart().catch(() => undefined);
    throw e;
  }

  async function startAgentOnBridge(): Promise<NodeAgent> {
    await ensureBridge(tools, bridge, alloc.gateway, alloc.cidr.prefix);
    const podsDir = join(opts.workDir, 'pods');
    mkdirSync(podsDir, { recursive: true });

    const tStart = Date.now();
    const phases: string[] = [];
    const phase = (name: string, since: number): number => { const now = Date.now(); phases.push(`${name} ${now - since} ms`); return now; };
    const why = prepareSkeinImage();
    let t = phase('image prep', tStart);
    if (why) log(`the Skein image's native helper is unavailable (${why}); proxies run without original-destination routing`);
    const apiPort = Number(serverUrl.port || 443);
    try {
      forwarder = await startForwarder(alloc.gateway, 443, serverUrl.hostname, apiPort);
    } catch (e) {
      log(`cannot relay ${alloc.gateway}:443 to the API server (${(e as Error).message}); pods use port ${apiPort} directly`);
    }
    const apiEnv = { KUBERNETES_SERVICE_HOST: alloc.gateway, KUBERNETES_SERVICE_PORT: String(forwarder?.port ?? apiPort), KUBERNETES_SERVICE_PORT_HTTPS: String(forwarder?.port ?? apiPort) };

    let kubeletVersion = 'v0.0.0-skein';
    try { kubeletVersion = (await kc.makeApiClient(VersionApi).getCode()).gitVersion; } catch { /* cosmetic */ }
    const runners = new Map<string, PodRunner>();
    const logSource: LogSource = {
      logOf(namespace, name, container) {
        const r = [...runners.values()].find((x) => x.pod.metadata?.namespace === namespace && x.pod.metadata?.name === name);
        if (!r) return undefined;
        const all = [...r.mains, ...r.inits];
        const c = container ? all.find((x) => x.name === container) : r.mains.length === 1 ? r.mains[0] : undefined;
        return c ? { path: join(r.logDir, `${c.name}.log`), running: () => c.running } : undefined;
      },
    };
    // Off the start path: its certificate takes a few hundred ms to make, and only `kubectl logs` needs it.
    kubeletStarting = startKubeletServer(alloc.gateway, KUBELET_PORT, alloc.cidr, alloc.gateway, logSource).then(
      (k) => { kubelet = k; },
      (e: unknown) => log(`kubectl logs will not work: cannot serve the kubelet API on ${alloc.gateway}:${KUBELET_PORT} (${(e as Error).message})`),
    );
    registration = new NodeRegistration(core, coord, {
      nodeName: opts.nodeName, podCidr: opts.podCidr, internalIp: alloc.gateway, kubeletVersion, kubeletPort: KUBELET_PORT,
      maxPods: Math.min(110, cidrSize(alloc.cidr) - 3), log,
    });
    const reg = registration;
    t = phase('setup', t);
    await reg.register();
    t = phase('node registration', t);
    log(`node ${opts.nodeName} registered (pod CIDR ${opts.podCidr}, bridge ${bridge} ${alloc.gateway})`);

    const reader = clusterReader(core);

    // Services: no cluster DNS, so each pod's hosts file lists the services (see service-hosts.ts), rewritten on changes.
    let services: readonly V1Service[] = [];
    let slices: readonly V1EndpointSlice[] = [];
    const hostsExtra = (ns: string): string => serviceHostsLines({ services, slices, apiAddress: alloc.gateway }, ns);

    const latest = new Map<string, V1Pod>();
    const written = new Map<string, string>();
    let stopped = false;
    const events = podEventPoster(core, opts.nodeName);
    const postEvent: PodRunnerDeps['postEvent'] = (...args) => { if (!stopped) events(...args); };
    const deps = {
      tools, bridge, alloc, hostIp: alloc.gateway, nodeName: opts.nodeName, podsDir, reader, state, log, hostsExtra, baseEnv: apiEnv, postEvent,
    };

    const sync = async (uid: string): Promise<void> => {
      if (stopped) return;
      const pod = latest.get(uid);
      let runner = runners.get(uid);
      if (!pod || pod.metadata?.deletionTimestamp) {
        const ref = pod ?? runner?.pod;
        if (runner) {
          const grace = ref?.metadata?.deletionGracePeriodSeconds ?? ref?.spec?.terminationGracePeriodSeconds ?? 30;
          log(`pod ${ref ? podKey(ref) : uid}: stopping (grace ${grace}s)`);
          await runner.terminate(grace);
          runners.delete(uid);
        }
        written.delete(uid);
        if (pod) {
          // Kubelet's last word: with the containers gone, delete the object for good so it disappears from the API.
          await core.deleteNamespacedPod({
            name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid } },
          }).catch((e: unknown) => { if (code(e) !== 404 && code(e) !== 409) throw e; });
          log(`pod ${podKey(pod)}: deleted`);
        }
        return;
      }
      if (!runner) {
        const phase = pod.status?.phase;
        if (phase === 'Succeeded' || phase === 'Failed') return; // finished before this agent started
        runner = new PodRunner(pod, deps, () => queue.kick(uid));
        runners.set(uid, runner);
        log(`pod ${podKey(pod)}: starting`);
        runner.start();
      }
      runner.setPod(pod);
      const status = runner.status();
      const json = JSON.stringify(status);
      if (json === written.get(uid)) return;
      try {
        await core.patchNamespacedPodStatus(
          { name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body: { status } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        written.set(uid, json);
      } catch (e) {
        if (code(e) === 404) return;
        throw e;
      }
    };
    const queue: PodWorkQueue = new PodWorkQueue(sync, (uid, e) => {
      log(`pod ${uid}: sync failed: ${(e as Error).message}`);
      // Retry later (API hiccup); the next event would also do it.
      const t = setTimeout(() => { if (!stopped) queue.kick(uid); }, 2000);
      t.unref();
    });

    const fieldSelector = `spec.nodeName=${opts.nodeName}`;
    const watch = new Watch(kc);
    const pods = new ListWatch<V1Pod>('/api/v1/pods', watch, () => core.listPodForAllNamespaces({ fieldSelector }), false, undefined, fieldSelector);
    const onPod = (p: V1Pod): void => {
      const uid = p.metadata?.uid;
      if (!uid) return;
      // A pod recreated under the same name replaces the cached object; the old UID is gone.
      for (const [other, q] of latest) {
        if (other !== uid && podKey(q) === podKey(p)) { latest.delete(other); queue.kick(other); }
      }
      latest.set(uid, p);
      queue.kick(uid);
    };
    pods.on('add', onPod);
    pods.on('update', onPod);
    pods.on('delete', (p) => {
      const uid = p.metadata?.uid;
      if (!uid || !latest.get(uid)) return;
      // The final object carries the deletion grace period (0 for a forced delete): the sync uses it to stop the pod.
      runners.get(uid)?.setPod(p);
      latest.delete(uid);
      queue.kick(uid);
    });

    let hostsTimer: NodeJS.Timeout | undefined;
    const svcs = new ListWatch<V1Service>('/api/v1/services', new Watch(kc), () => core.listServiceForAllNamespaces(), false);
    const eps = new ListWatch<V1EndpointSlice>('/apis/discovery.k8s.io/v1/endpointslices', new Watch(kc), () => discovery.listEndpointSliceForAllNamespaces(), false);
    const onServices = (): void => {
      services = svcs.list();
      slices = eps.list();
      if (hostsTimer) return;
      hostsTimer = setTimeout(() => { hostsTimer = undefined; for (const r of runners.values()) r.refreshHosts(); }, 200);
    };
    for (const lw of [svcs, eps] as { on(verb: 'add' | 'update' | 'delete', cb: () => void): void }[]) {
      lw.on('add', onServices);
      lw.on('update', onServices);
      lw.on('delete', onServices);
    }

    const restartOnError = (name: string, lw: { start(): Promise<void> }) => (err: unknown): void => {
      if (stopped) return;
      log(`${name} watch failed (${(err as Error)?.message ?? String(err)}); restarting in 1 s`);
      const t = setTimeout(() => { if (!stopped) lw.start().catch(() => undefined); }, 1000);
      t.unref();
    };
    pods.on('error', restartOnError('pod', pods));
    svcs.on('error', restartOnError('service', svcs));
    eps.on('error', restartOnError('endpointslice', eps));
    t = phase('wiring', t);
    await svcs.start();
    await eps.start();
    await pods.start();
    phase('informers', t);
    log(`node agent started in ${Date.now() - tStart} ms (${phases.join(', ')})`);

    return {
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        if (hostsTimer) clearTimeout(hostsTimer);
        await pods.stop();
        await svcs.stop();
        await eps.stop();
        await queue.drain();
        await Promise.all([...runners.values()].map((r) => r.terminate(Math.min(STOP_GRACE_SECONDS, r.pod.spec?.terminationGracePeriodSeconds ?? 30))));
        runners.clear();
        await forwarder?.close();
        await kubeletStarting;
        await kubelet?.close();
        await reg.deregister();
        await cleanupHostState(tools, state.data);
        state.remove();
        log(`node ${opts.nodeName} stopped; network removed`);
      },
    };
  }
}
