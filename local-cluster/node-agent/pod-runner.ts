// Runs one pod: sandbox (netns, IP, hosts file, volumes), init containers in order with native sidecars started before what
// follows them, the app containers, completion (sidecars stopped after the app), and termination with the grace period.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { V1Container, V1Pod, V1Probe } from '@kubernetes/client-node';
import { startForwarder, type Forwarder } from './tcp-relay.ts';
import { expandVars, resolveContainerEnv } from './container-env.ts';
import { launchContainer, signalGroup, startPidNamespaceHolder, type PidNamespaceHolder } from './container-process.ts';
import { ContainerSupervisor, nowIso, type ContainerHost, type RestartRule } from './container-supervisor.ts';
import type { HostStateFile } from './host-state.ts';
import type { HostTools } from './host-tools.ts';
import { createPodNetwork, deletePodNetwork, podHostsFile, podNetworkNames, podResolvConf, writeNetnsEtc } from './host-network.ts';
import { resolveProcess } from './image-table.ts';
import type { IpAllocator } from './ip-allocator.ts';
import { ConditionClock, buildPodStatus, type ContainerView, type PodSnapshot } from './pod-status.ts';
import { PodVolumes, type ClusterReader } from './pod-volumes.ts';
import { RestartBackoff } from './restart-backoff.ts';

export interface PodRunnerDeps {
  readonly tools: HostTools;
  readonly bridge: string;
  readonly alloc: IpAllocator;
  readonly hostIp: string;
  readonly nodeName: string;
  readonly podsDir: string;
  readonly reader: ClusterReader;
  readonly state: HostStateFile;
  readonly log: (line: string) => void;
  /** Posts a kubelet-style Event about the pod (best effort). */
  readonly postEvent?: (pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath: string | undefined) => void;
  /** Extra lines for the pod's hosts file (service names), recomputed when services change. */
  readonly hostsExtra: (namespace: string) => string;
  /** Environment every container gets before its own (KUBERNETES_SERVICE_HOST/PORT). */
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly backoff?: () => RestartBackoff;
}

function key(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

export class PodRunner {
  readonly uid: string;
  #pod: V1Pod;
  readonly #deps: PodRunnerDeps;
  readonly #onChange: () => void;
  readonly #clock = new ConditionClock(nowIso);
  readonly inits: ContainerSupervisor[];
  readonly mains: ContainerSupervisor[];
  #podIp: string | undefined;
  #startTime: string | undefined;
  #sandboxReady = false;
  #sandboxError: string | undefined;
  #initialized = false;
  #finalPhase: 'Succeeded' | 'Failed' | undefined;
  #finalReason: string | undefined;
  #net: { netns: string; hostVeth: string } | undefined;
  /** spec.shareProcessNamespace: the pause process whose PID namespace every container joins. */
  #pidHolder: PidNamespaceHolder | undefined;
  #volumes: PodVolumes | undefined;
  #env = new Map<string, Record<string, string>>();
  #terminating = false;
  #abort = new AbortController();
  #lifecycle: Promise<void> | undefined;
  #tornDown = false;
  #probeSeq = 0;
  #hostsWritten = '';
  #hostPorts: Forwarder[] = [];
  readonly #dir: string;

  constructor(pod: V1Pod, deps: PodRunnerDeps, onChange: () => void) {
    this.uid = pod.metadata?.uid ?? '';
    this.#pod = pod;
    this.#deps = deps;
    this.#onChange = onChange;
    this.#dir = join(deps.podsDir, `${pod.metadata?.namespace}_${pod.metadata?.name}_${this.uid}`);
    const host = this.#containerHost();
    const mk = (c: V1Container, role: ContainerSupervisor['role']): ContainerSupervisor =>
      new ContainerSupervisor(c, role, host, onChange, deps.backoff?.() ?? new RestartBackoff());
    this.inits = (pod.spec?.initContainers ?? []).map((c) => mk(c, c.restartPolicy === 'Always' ? 'sidecar' : 'init'));
    this.mains = (pod.spec?.containers ?? []).map((c) => mk(c, 'main'));
  }

  get pod(): V1Pod { return this.#pod; }
  get podIp(): string | undefined { return this.#podIp; }
  get netns(): string | undefined { return this.#net?.netns; }
  get finished(): boolean { return this.#finalPhase !== undefined; }
  get logDir(): string { return this.#dir; }

  setPod(pod: V1Pod): void {
    this.#pod = pod;
  }

  start(): void {
    this.#lifecycle ??= this.#run().catch((e: unknown) => {
      this.#deps.log(`pod ${key(this.#pod)}: lifecycle failed: ${(e as Error).stack ?? String(e)}`);
    });
  }

  snapshot(): PodSnapshot {
    const view = (c: ContainerSupervisor): ContainerView => ({
      name: c.name, image: c.spec.image ?? '', role: c.role, state: c.state, lastTerminated: c.lastTerminated,
      restartCount: c.restartCount, started: c.started, ready: c.ready, containerId: c.containerId,
    });
    return {
      pod: this.#pod, podIp: this.#podIp, hostIp: this.#deps.hostIp, startTime: this.#startTime, sandboxReady: this.#sandboxReady,
      sandboxError: this.#sandboxError, initialized: this.#initialized, finalPhase: this.#finalPhase, finalReason: this.#finalReason,
      inits: this.inits.map(view), mains: this.mains.map(view),
    };
  }

  status(): Record<string, unknown> {
    return buildPodStatus(this.snapshot(), this.#clock);
  }

  /** Rewrites the pod's hosts file in place (running processes see it through their bind mount). */
  refreshHosts(): void {
    // Not before the sandbox exists: creating it first removes any half-built /etc/netns/<ns> (and a file written now with it).
    if (!this.#net || !this.#podIp || this.#tornDown || !this.#sandboxReady) return;
    const ns = this.#pod.metadata?.namespace ?? 'default';
    try {
      const aliases = (this.#pod.spec?.hostAliases ?? []).map((a) => `${a.ip}\t${(a.hostnames ?? []).join(' ')}`).join('\n');
      const extra = [aliases, this.#deps.hostsExtra(ns)].filter(Boolean).join('\n');
      const hosts = podHostsFile(this.#pod.metadata?.name ?? '', this.#podIp, extra);
      if (hosts === this.#hostsWritten) return;
      writeNetnsEtc(this.#net.netns, hosts, podResolvConf(ns));
      this.#hostsWritten = hosts;
    } catch { /* torn down meanwhile */ }
  }

  /** Stops every container (app first, then sidecars in reverse order) within graceSeconds, then removes the sandbox. */
  async terminate(graceSeconds: number): Promise<void> {
    this.#terminating = true;
    this.#abort.abort();
    const deadline = Date.now() + Math.max(0, graceSeconds) * 1000;
    for (const c of [...this.mains, ...this.inits]) if (c.running) this.#event('Normal', 'Killing', `Stopping container ${c.name}`, this.#fieldPath(c.spec));
    const remaining = (): number => Math.max(0, deadline - Date.now());
    await Promise.all([...this.mains, ...this.inits.filter((c) => c.role === 'init')].map((c) => c.stop(remaining())));
    for (const s of [...this.inits].reverse()) if (s.role === 'sidecar') await s.stop(remaining());
    await this.#lifecycle;
    await this.#teardown();
  }

  #fieldPath(c: V1Container): string {
    const i = (this.#pod.spec?.initContainers ?? []).findIndex((x) => x.name === c.name);
    return i >= 0 ? `spec.initContainers{${c.name}}` : `spec.containers{${c.name}}`;
  }

  #event(type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void {
    this.#deps.log(`pod ${key(this.#pod)}: ${reason}: ${message}`);
    this.#deps.postEvent?.(this.#pod, type, reason, message, fieldPath);
  }

  async #run(): Promise<void> {
    this.#startTime = nowIso();
    await this.#setupSandbox();
    if (this.#terminating) return;
    const policy = this.#pod.spec?.restartPolicy ?? 'Always';
    for (const c of this.inits) {
      if (this.#terminating) return;
      if (c.role === 'sidecar') {
        c.run('Always');
        await c.waitStarted();
        continue;
      }
      c.run(policy === 'Never' ? 'Never' : 'OnFailure');
      await c.waitDone();
      if (this.#terminating) return;
      if (!(c.state.kind === 'terminated' && c.state.exitCode === 0)) {
        this.#deps.log(`pod ${key(this.#pod)}: init container ${c.name} failed`);
        await this.#finish('Failed', 'InitContainerFailed');
        return;
      }
    }
    this.#initialized = true;
    this.#onChange();
    const rule = policy as RestartRule;
    // In order, each after the previous one's postStart hook: the injector's non-native sidecar mode relies on it.
    for (const c of this.mains) {
      if (this.#terminating) return;
      c.run(rule);
      await c.waitLaunched();
    }
    await Promise.all(this.mains.map((c) => c.waitDone()));
    if (this.#terminating) return;
    const ok = this.mains.every((c) => c.state.kind === 'terminated' && c.state.exitCode === 0);
    await this.#finish(ok ? 'Succeeded' : 'Failed', undefined);
  }

  /** The app containers have all exited for good: stop the sidecars (so a Job's pod completes) and release the sandbox. */
  async #finish(phase: 'Succeeded' | 'Failed', reason: string | undefined): Promise<void> {
    const grace = (this.#pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    for (const s of [...this.inits].reverse()) if (s.role === 'sidecar') await s.stop(grace);
    await this.#teardown();
    this.#finalPhase = phase;
    this.#finalReason = reason;
    this.#deps.log(`pod ${key(this.#pod)}: ${phase}`);
    this.#onChange();
  }

  async #setupSandbox(): Promise<void> {
    const d = this.#deps;
    mkdirSync(this.#dir, { recursive: true, mode: 0o755 });
    const hostNetwork = this.#pod.spec?.hostNetwork === true;
    let names: { netns: string; hostVeth: string } | undefined;
    if (hostNetwork) {
      // The host's network, hosts file and hostname; only the mount namespace is the container's own (for volumes).
      this.#podIp = d.hostIp;
      this.#sandboxReady = true;
    } else {
      const prior = this.#pod.status?.podIP;
      this.#podIp = prior && d.alloc.reserve(prior, this.uid) ? prior : d.alloc.allocate(this.uid);
      names = podNetworkNames(this.uid);
      const n = names;
      d.state.update((s) => { s.netns.push(n.netns); s.veths.push(n.hostVeth); });
      this.#net = names;
    }
    const backoff = new RestartBackoff();
    for (let attempt = 0; !this.#terminating; attempt++) {
      try {
        if (!this.#sandboxReady && names) {
          await deletePodNetwork(d.tools, names.netns, names.hostVeth); // a half-built one from a failed attempt
          await createPodNetwork(d.tools, d.bridge, { ...names, ip: this.#podIp, prefix: d.alloc.cidr.prefix, gateway: d.alloc.gateway });
          if (this.#pod.spec?.shareProcessNamespace === true) this.#pidHolder = await startPidNamespaceHolder(d.tools, names.netns);
          this.#sandboxReady = true;
          await this.#openHostPorts();
          // The new sandbox has no /etc/netns files yet, whatever an earlier attempt wrote: write them before any container starts.
          this.#hostsWritten = '';
          this.refreshHosts();
        }
        this.#volumes?.close();
        this.#volumes = new PodVolumes(this.#pod, join(this.#dir, 'volumes'), d.reader,
          { podIp: this.#podIp, hostIp: d.hostIp, nodeName: d.nodeName },
          (p) => d.state.update((s) => { s.mountPoints.push(p); }), d.log);
        await this.#volumes.setup();
        this.#sandboxError = undefined;
        this.#onChange();
        return;
      } catch (e) {
        this.#sandboxError = (e as Error).message;
        this.#event('Warning', this.#sandboxReady ? 'FailedMount' : 'FailedCreatePodSandBox', `${this.#sandboxError} (attempt ${attempt + 1})`);
        this.#onChange();
        await this.#sleep(backoff.nextDelay(0));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#abort.signal.aborted) { resolve(); return; }
      const t = setTimeout(resolve, ms);
      this.#abort.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }

  /** containerPorts with a hostPort: a TCP relay on the host (hostIP, default all addresses) to the pod IP, like a CNI portmap. */
  async #openHostPorts(): Promise<void> {
    for (const c of [...(this.#pod.spec?.initContainers ?? []), ...(this.#pod.spec?.containers ?? [])]) {
      for (const p of c.ports ?? []) {
        if (!p.hostPort || (p.protocol ?? 'TCP') !== 'TCP' || !this.#podIp) continue;
        const listen = p.hostIP || '0.0.0.0';
        try {
          this.#hostPorts.push(await startForwarder(listen, p.hostPort, this.#podIp, p.containerPort));
        } catch (e) {
          this.#event('Warning', 'FailedHostPort', `cannot listen on ${listen}:${p.hostPort} for ${c.name}: ${(e as Error).message}`);
        }
      }
    }
  }

  async #teardown(): Promise<void> {
    if (this.#tornDown) return;
    this.#tornDown = true;
    await Promise.all(this.#hostPorts.map((f) => f.close()));
    this.#hostPorts = [];
    this.#volumes?.close();
    signalGroup(this.#pidHolder?.process.pid, 'SIGKILL'); // ends whatever is left in the pod's PID namespace
    this.#pidHolder = undefined;
    const d = this.#deps;
    if (this.#net) {
      const n = this.#net;
      await deletePodNetwork(d.tools, n.netns, n.hostVeth);
      d.state.update((s) => { s.netns = s.netns.filter((x) => x !== n.netns); s.veths = s.veths.filter((x) => x !== n.hostVeth); });
    }
    if (this.#podIp && this.#net) d.alloc.release(this.#podIp);
    this.#sandboxReady = false;
  }

  async #containerEnv(c: V1Container): Promise<Record<string, string>> {
    const d = this.#deps;
    const r = await resolveContainerEnv(c, {
      pod: this.#pod, podIp: this.#podIp ?? '', hostIp: d.hostIp, nodeName: d.nodeName,
      lookup: async (kind, ns, name) => {
        const data = kind === 'ConfigMap' ? await d.reader.configMap(ns, name) : await d.reader.secret(ns, name);
        return data ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString('utf8')])) : undefined;
      },
    });
    if (!r.ok) throw new Error(r.error);
    return { ...d.baseEnv, ...r.value };
  }

  #user(c: V1Container): { uid: number | undefined; gid: number | undefined } {
    const podSc = this.#pod.spec?.securityContext;
    return { uid: c.securityContext?.runAsUser ?? podSc?.runAsUser, gid: c.securityContext?.runAsGroup ?? podSc?.runAsGroup };
  }

  async #spawn(c: V1Container, command: string[] | undefined, args: string[] | undefined, logName: string, launcherName: string): Promise<ChildProcess> {
    if (!this.#volumes || (!this.#net && this.#pod.spec?.hostNetwork !== true)) throw new Error('pod sandbox is not ready');
    const env = this.#env.get(c.name) ?? (await this.#containerEnv(c));
    this.#env.set(c.name, env);
    const r = resolveProcess(c.image ?? '', command?.map((s) => expandVars(s, env)), args?.map((s) => expandVars(s, env)));
    if (!r.ok) throw new Error(r.error);
    const { uid, gid } = this.#user(c);
    return launchContainer(this.#deps.tools, {
      netns: this.#net?.netns, hostname: this.#net ? (this.#pod.metadata?.name ?? 'pod') : undefined, argv: r.value.argv, env: { ...r.value.env, ...env },
      workingDir: c.workingDir || r.value.workingDir, uid, gid, mounts: this.#volumes.mountsFor(c),
      launcherPath: join(this.#dir, launcherName), logPath: logName === '/dev/null' ? logName : join(this.#dir, logName),
      sharedPidNamespaceOf: this.#pidHolder?.initPid,
    });
  }

  #containerHost(): ContainerHost {
    return {
      killGraceMs: (this.#pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000,
      event: (c, type, reason, message) => this.#event(type, reason, message, this.#fieldPath(c)),
      start: (c) => this.#spawn(c, c.command, c.args, `${c.name}.log`, `${c.name}.launch.sh`),
      probe: (c, p, timeoutMs) => this.#probe(c, p, timeoutMs),
      hook: async (c, h, timeoutMs) => {
        if (h.sleep) {
          // Not #sleep: a preStop sleep runs while the pod is terminating and must really wait.
          await new Promise((r) => setTimeout(r, Math.min(timeoutMs, h.sleep!.seconds * 1000)));
          return true;
        }
        return this.#probe(c, h, timeoutMs);
      },
    };
  }

  #port(c: V1Container, port: number | string): number {
    if (typeof port === 'number') return port;
    if (/^\d+$/.test(port)) return Number(port);
    const named = [...this.mains, ...this.inits].flatMap((s) => s.spec.ports ?? []).find((p) => p.name === port);
    return named?.containerPort ?? (c.ports ?? []).find((p) => p.name === port)?.containerPort ?? 0;
  }

  async #probe(c: V1Container, p: Pick<V1Probe, 'httpGet' | 'tcpSocket' | 'exec'>, timeoutMs: number): Promise<boolean> {
    const ip = this.#podIp;
    if (!ip) return false;
    if (p.httpGet) {
      const g = p.httpGet;
      const req = g.scheme === 'HTTPS' ? httpsRequest : httpRequest;
      return new Promise<boolean>((resolve) => {
        const headers: Record<string, string> = { 'user-agent': 'kube-probe/skein' };
        for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
        const r = req({ host: g.host || ip, port: this.#port(c, g.port as number | string), path: g.path || '/', method: 'GET', headers, timeout: timeoutMs, rejectUnauthorized: false, agent: false }, (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(code >= 200 && code < 400);
        });
        r.on('timeout', () => { r.destroy(); resolve(false); });
        r.on('error', () => resolve(false));
        r.end();
      });
    }
    if (p.tcpSocket) {
      const t = p.tcpSocket;
      return new Promise<boolean>((resolve) => {
        const s = connect({ host: t.host || ip, port: this.#port(c, t.port as number | string), timeout: timeoutMs });
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('timeout', () => { s.destroy(); resolve(false); });
        s.once('error', () => resolve(false));
      });
    }
    if (p.exec?.command && p.exec.command.length > 0) {
      // Each exec gets its own launcher file: readiness and liveness probes of one container may run at the same moment.
      const launcher = `${c.name}.probe-${++this.#probeSeq}.sh`;
      let child: ChildProcess;
      try {
        child = await this.#spawn(c, p.exec.command, [], '/dev/null', launcher);
      } catch { return false; }
      const ok = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => { signalGroup(child.pid, 'SIGKILL'); resolve(false); }, timeoutMs);
        child.once('exit', (code) => { clearTimeout(t); signalGroup(child.pid, 'SIGKILL'); resolve(code === 0); });
        child.once('error', () => { clearTimeout(t); resolve(false); });
      });
      rmSync(join(this.#dir, launcher), { force: true });
      return ok;
    }
    return false; // gRPC probes are not supported by the node agent (documented)
  }
}
