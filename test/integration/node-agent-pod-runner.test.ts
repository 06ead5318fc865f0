// Integration tests for the node agent's pod runner without an API server: real netns pods with init containers, a native
// sidecar, an app with a readiness probe, Job-style completion, restarts per restartPolicy, and termination.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { hostTools } from '../../local-cluster/node-agent/host-tools.ts';
import { cleanupHostState, ensureBridge, linkExists, listNetns } from '../../local-cluster/node-agent/host-network.ts';
import { HostStateFile } from '../../local-cluster/node-agent/host-state.ts';
import { IpAllocator } from '../../local-cluster/node-agent/ip-allocator.ts';
import { PodRunner, type PodRunnerDeps } from '../../local-cluster/node-agent/pod-runner.ts';
import { RestartBackoff } from '../../local-cluster/node-agent/restart-backoff.ts';

const tools = hostTools();
const tag = Math.floor(Math.random() * 0xfffff).toString(16).padStart(5, '0');
const bridge = `skein-t${tag}`;
const octet = 200 + Math.floor(Math.random() * 50);
const dir = mkdtempSync(join(tmpdir(), 'skein-runner-'));
const state = new HostStateFile(`it-${tag}`, dir);
const alloc = new IpAllocator(`10.${octet}.8.0/24`);
const mountBase = `/tmp/skein-it-${tag}`;
const logs: string[] = [];
const deps: PodRunnerDeps = {
  tools, bridge, alloc, hostIp: alloc.gateway, nodeName: 'it-node', podsDir: join(dir, 'pods'),
  reader: {
    configMap: async () => undefined, secret: async () => undefined,
    requestToken: async () => { throw new Error('no API server in this test'); },
  },
  state, log: (l) => logs.push(l), hostsExtra: () => `10.96.0.10\tdemo-svc.default.svc.cluster.local demo-svc`,
  baseEnv: { KUBERNETES_SERVICE_HOST: alloc.gateway },
  backoff: () => new RestartBackoff({ initialMs: 50, maxMs: 200, resetAfterMs: 60_000 }),
};

let seq = 0;
function pod(spec: V1Pod['spec']): V1Pod {
  seq++;
  return { metadata: { name: `pod-${seq}`, namespace: 'default', uid: `${tag}${String(seq).padStart(4, '0')}-0000-4000-8000-000000000000` }, spec };
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function cond(status: Record<string, unknown>, type: string): string | undefined {
  return (status.conditions as { type: string; status: string }[]).find((c) => c.type === type)?.status;
}

describe('pod runner', () => {
  beforeAll(async () => { await ensureBridge(tools, bridge, alloc.gateway, 24); state.update((s) => { s.bridge = bridge; }); });
  afterAll(async () => {
    await cleanupHostState(tools, state.data);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs init containers in order, a native sidecar before the app, gates Ready on the readiness probe, and stops in order', async () => {
    const work = { name: 'work', mountPath: `${mountBase}/work` };
    const hostPort = 20000 + Math.floor(Math.random() * 10000);
    const p = pod({
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 5,
      volumes: [{ name: 'work', emptyDir: {} }],
      initContainers: [
        { name: 'first', image: 'busybox', command: ['sh', '-c', `echo first >> ${work.mountPath}/order; chmod 666 ${work.mountPath}/order`], volumeMounts: [work] },
        { name: 'side', image: 'busybox', restartPolicy: 'Always', volumeMounts: [work],
          command: ['sh', '-c', `trap 'echo side-term >> ${work.mountPath}/order; exit 0' TERM; echo side-start >> ${work.mountPath}/order; while true; do sleep 0.1; done`] },
        { name: 'second', image: 'busybox', command: ['sh', '-c', `echo second-as-$(id -u)-on-$(hostname) >> ${work.mountPath}/order`], volumeMounts: [work], securityContext: { runAsUser: 2102 } },
      ],
      containers: [{
        name: 'app', image: 'skein.dev/example-echo:1',
        ports: [{ containerPort: 8080, hostPort, hostIP: '127.0.0.1' }],
        env: [{ name: 'PORT', value: '8080' }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        securityContext: { runAsUser: 2102, runAsGroup: 2102 },
        readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
        livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
      }],
    });
    const r = new PodRunner(p, deps, () => {});
    r.start();
    const status = await waitFor('Ready', () => { const s = r.status(); return cond(s, 'Ready') === 'True' ? s : undefined; });
    expect(status.phase).toBe('Running');
    expect(status.podIP).toMatch(new RegExp(`^10\\.${octet}\\.8\\.\\d+$`));
    expect(cond(status, 'Initialized')).toBe('True');
    const inits = status.initContainerStatuses as { name: string; ready: boolean; state: Record<string, unknown> }[];
    expect(inits.map((c) => [c.name, Object.keys(c.state)[0], c.ready])).toEqual([['first', 'terminated', true], ['side', 'running', true], ['second', 'terminated', true]]);
    const order = readFileSync(join(r.logDir, 'volumes', 'work', 'order'), 'utf8').trim().split('\n');
    expect(order).toEqual(['first', 'side-start', `second-as-2102-on-${p.metadata!.name}`]);

    const res = await fetch(`http://${status.podIP as string}:8080/hello`);
    const body = (await res.json()) as { pod: string };
    expect(body.pod).toBe(p.metadata!.name);
    // The hostPort relays from the host address to the pod.
    const viaHostPort = (await (await fetch(`http://127.0.0.1:${hostPort}/x`)).json()) as { pod: string; url: string };
    expect(viaHostPort).toMatchObject({ pod: p.metadata!.name, url: '/x' });
    const netns = r.netns!;
    expect(await listNetns(tools)).toContain(netns);
    expect(readFileSync(`/etc/netns/${netns}/hosts`, 'utf8')).toContain(`${status.podIP as string}\t${p.metadata!.name}`);

    await r.terminate(5);
    const after = r.snapshot();
    expect(after.mains[0]!.state).toMatchObject({ kind: 'terminated', exitCode: 0 });
    expect(readFileSync(join(r.logDir, 'volumes', 'work', 'order'), 'utf8').trim().split('\n').at(-1)).toBe('side-term');
    expect(await listNetns(tools)).not.toContain(netns);
    expect(existsSync(`/etc/netns/${netns}`)).toBe(false);
    expect(alloc.inUse).toBe(0);
    await expect(fetch(`http://127.0.0.1:${hostPort}/x`)).rejects.toThrow();
  });

  it('gives containers the pod hosts file even when a Service change lands while the sandbox is being built', async () => {
    // The demo applies Services and Deployments together: a hosts refresh raced the sandbox creation, which removed the
    // just-written /etc/netns files and then skipped rewriting identical content, so the pod ran on the host's /etc/hosts.
    const p = pod({
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'app', image: 'busybox', command: ['sh', '-c', 'cat /etc/hosts; echo END; while true; do sleep 0.1; done'] }],
    });
    const r = new PodRunner(p, deps, () => {});
    r.start();
    r.refreshHosts(); // what the agent does on any Service or EndpointSlice event
    await waitFor('the container to print its hosts file', () => existsSync(join(r.logDir, 'app.log')) && readFileSync(join(r.logDir, 'app.log'), 'utf8').includes('END'));
    const seen = readFileSync(join(r.logDir, 'app.log'), 'utf8');
    expect(seen).toContain('demo-svc.default.svc.cluster.local demo-svc');
    expect(seen).toContain(`\t${p.metadata!.name}`);
    await r.terminate(1);
  });

  it('completes a Job-style pod: sidecar stopped once the app exits, phase Succeeded, OnFailure restarts a failed app', async () => {
    const work = { name: 'w', mountPath: `${mountBase}/job` };
    const p = pod({
      restartPolicy: 'OnFailure',
      volumes: [{ name: 'w', emptyDir: {} }],
      initContainers: [{ name: 'side', image: 'busybox', restartPolicy: 'Always', command: ['sh', '-c', 'while true; do sleep 0.1; done'] }],
      containers: [{ name: 'job', image: 'alpine:3', volumeMounts: [work], command: ['sh', '-c', `test -f ${work.mountPath}/again || { touch ${work.mountPath}/again; exit 3; }`] }],
    });
    const r = new PodRunner(p, deps, () => {});
    r.start();
    await waitFor('the pod to finish', () => r.finished);
    const s = r.status();
    expect(s.phase).toBe('Succeeded');
    const main = (s.containerStatuses as { restartCount: number; state: { terminated?: { exitCode: number } }; lastState: { terminated?: { exitCode: number } } }[])[0]!;
    expect(main.restartCount).toBe(1);
    expect(main.lastState.terminated?.exitCode).toBe(3);
    expect(main.state.terminated?.exitCode).toBe(0);
    const side = (s.initContainerStatuses as { state: Record<string, unknown> }[])[0]!;
    expect(Object.keys(side.state)).toEqual(['terminated']);
    expect(cond(s, 'Ready')).toBe('False');
    expect(await listNetns(tools)).not.toContain(r.netns);
  });

  it('shareProcessNamespace: containers see each other in one PID namespace whose pid 1 is the pause process', async () => {
    const work = { name: 'w', mountPath: `${mountBase}/pidns` };
    const p = pod({
      restartPolicy: 'Never',
      shareProcessNamespace: true,
      volumes: [{ name: 'w', hostPath: { path: join(dir, 'pidns-seen'), type: 'DirectoryOrCreate' } }],
      containers: [
        // A long-lived neighbour with a recognisable command line, then a container that lists what it can see.
        { name: 'neighbour', image: 'busybox', command: ['sh', '-c', 'sleep 3600; exit 0'] },
        { name: 'look', image: 'busybox', volumeMounts: [work], command: ['sh', '-c',
          `until grep -q 3600 /proc/[0-9]*/cmdline 2>/dev/null; do sleep 0.05; done; for d in /proc/[0-9]*; do echo "\${d#/proc/} $(cat $d/comm)"; done > ${work.mountPath}/seen; pkill -x sleep; exit 0`] },
      ],
    });
    const r = new PodRunner(p, deps, () => {});
    r.start();
    await waitFor('the pod to finish', () => r.finished);
    const containerLogs = ['neighbour', 'look'].map((c) => `${c}: ${readFileSync(join(r.logDir, `${c}.log`), 'utf8')}`).join('\n');
    expect(r.status().phase, `${containerLogs}\n${logs.join('\n')}`).toBe('Succeeded');
    const seen = readFileSync(join(dir, 'pidns-seen', 'seen'), 'utf8');
    const byPid = new Map(seen.trim().split('\n').map((l) => l.split(' ') as [string, string]));
    expect(byPid.get('1')).toBe('sleep'); // the pause process, not a host process
    expect([...byPid.entries()].filter(([pid, comm]) => pid !== '1' && comm === 'sleep')).toHaveLength(1); // the neighbour container's
    expect(byPid.size).toBeLessThan(20); // only the pod's processes, not the host's
    expect(await listNetns(tools)).not.toContain(r.netns);
  });

  it('fails a restartPolicy Never pod whose init container fails, without starting the app', async () => {
    const p = pod({
      restartPolicy: 'Never',
      initContainers: [{ name: 'bad', image: 'busybox', command: ['sh', '-c', 'exit 7'] }],
      containers: [{ name: 'app', image: 'busybox', command: ['sh', '-c', 'sleep 30'] }],
    });
    const r = new PodRunner(p, deps, () => {});
    r.start();
    const s = await waitFor('Failed', () => { const st = r.status(); return st.phase === 'Failed' ? st : undefined; });
    expect((s.initContainerStatuses as { state: { terminated: { exitCode: number } } }[])[0]!.state.terminated.exitCode).toBe(7);
    expect((s.containerStatuses as { state: Record<string, unknown> }[])[0]!.state).toEqual({ waiting: { reason: 'PodInitializing' } });
  });

  it('restarts a container whose liveness probe fails, and kills with SIGKILL after the grace period', async () => {
    const p = pod({
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: 'stubborn', image: 'busybox', command: ['sh', '-c', "trap '' TERM; echo armed; while true; do sleep 0.1; done"],
        livenessProbe: { exec: { command: ['sh', '-c', 'exit 1'] }, periodSeconds: 1, failureThreshold: 1 },
      }],
    });
    const r = new PodRunner(p, deps, () => {});
    r.start();
    await waitFor('a liveness restart', () => r.snapshot().mains[0]!.restartCount >= 1, 30_000);
    // The restarted process ignores SIGTERM once it printed "armed" a second time.
    await waitFor('the restarted container to arm its trap', () => readFileSync(join(r.logDir, 'stubborn.log'), 'utf8').split('armed').length > 2);
    const t0 = Date.now();
    await r.terminate(1);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(r.snapshot().mains[0]!.state).toMatchObject({ kind: 'terminated', exitCode: 137 });
  });

  it('runs an iptables init script in the pod netns: outbound TCP is redirected except for the exempt UID', async () => {
    // The injector's interception in miniature: REDIRECT outbound TCP to a local port unless the sender runs as UID 2102.
    const rules = [
      'iptables -w -t nat -N SKEIN_OUT',
      'iptables -w -t nat -A SKEIN_OUT -m owner --uid-owner 2102 -j RETURN',
      'iptables -w -t nat -A SKEIN_OUT -p tcp -d 10.96.0.0/16 -j REDIRECT --to-ports 15001',
      'iptables -w -t nat -A OUTPUT -p tcp -j SKEIN_OUT',
    ].join(' && ');
    const server = "require('http').createServer((q,s)=>s.end('intercepted '+q.headers.host)).listen(15001,'0.0.0.0')";
    const client = (tag: string) => `fetch('http://10.96.0.10/',{signal:AbortSignal.timeout(2000)}).then(r=>r.text()).then(t=>console.log('${tag}:'+t),e=>console.log('${tag}:'+(e.cause?.code??e.name)))`;
    const node = process.execPath;
    const p = pod({
      restartPolicy: 'Never',
      hostAliases: [{ ip: '10.96.0.10', hostnames: ['fake-svc'] }],
      initContainers: [
        { name: 'skein-init', image: 'busybox', command: ['sh', '-c', rules], securityContext: { runAsUser: 0 } },
        { name: 'proxy', image: 'busybox', restartPolicy: 'Always', command: [node, '-e', server], startupProbe: { tcpSocket: { port: 15001 }, periodSeconds: 1 } },
      ],
      containers: [
        { name: 'app', image: 'busybox', command: [node, '-e', client('app')], securityContext: { runAsUser: 1000 } },
        { name: 'exempt', image: 'busybox', command: [node, '-e', client('exempt')], securityContext: { runAsUser: 2102 } },
      ],
    });
    const r = new PodRunner(p, deps, () => {});
    r.start();
    await waitFor('the pod to finish', () => r.finished, 30_000);
    expect(readFileSync(join(r.logDir, 'app.log'), 'utf8')).toContain('app:intercepted 10.96.0.10');
    // Nothing listens on 10.96.0.10 for the exempt UID: its connection is not redirected (times out or is refused).
    expect(readFileSync(join(r.logDir, 'exempt.log'), 'utf8')).not.toContain('intercepted');
    expect(readFileSync(join(r.logDir, 'skein-init.log'), 'utf8')).toBe('');
    expect(r.status().phase).toBe('Succeeded');
  });

  it('runs a hostNetwork pod in the host network namespace with its volumes mounted privately', async () => {
    const mount = `${mountBase}/hostnet`;
    const p = pod({
      restartPolicy: 'Never',
      hostNetwork: true,
      volumes: [{ name: 'v', emptyDir: {} }],
      containers: [{ name: 'main', image: 'busybox', volumeMounts: [{ name: 'v', mountPath: mount }],
        command: ['sh', '-c', `ip link show dev ${bridge} >/dev/null && echo host-net > ${mount}/where && hostname`] }],
    });
    const r = new PodRunner(p, deps, () => {});
    r.start();
    await waitFor('the pod to finish', () => r.finished, 20_000);
    expect(r.status()).toMatchObject({ phase: 'Succeeded', podIP: alloc.gateway });
    expect(readFileSync(join(r.logDir, 'volumes', 'v', 'where'), 'utf8')).toBe('host-net\n');
    expect(readFileSync(join(r.logDir, 'main.log'), 'utf8').trim()).toBe(hostname());
    expect(existsSync(`${mount}/where`)).toBe(false); // the bind mount was private to the container
    expect(r.netns).toBeUndefined();
  });

  it('leaves nothing behind', async () => {
    await cleanupHostState(tools, state.data);
    expect((await listNetns(tools)).filter((n) => state.data.netns.includes(n))).toEqual([]);
    expect(await linkExists(tools, bridge)).toBe(false);
    expect(existsSync(mountBase)).toBe(false);
  });
});
