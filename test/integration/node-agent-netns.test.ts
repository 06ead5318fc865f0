// Integration tests for the node agent's pod network without an API server: netns + veth + bridge, processes inside, cleanup.
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTools, run } from '../../local-cluster/node-agent/host-tools.ts';
import { cleanupHostState, createPodNetwork, ensureBridge, linkExists, listNetns, podNetworkNames, writeNetnsEtc, podHostsFile, podResolvConf } from '../../local-cluster/node-agent/host-network.ts';
import { launchContainer, signalGroup } from '../../local-cluster/node-agent/container-process.ts';
import { PINNED_NODE } from '../../local-cluster/node-agent/image-table.ts';

const tools = hostTools();
const tag = Math.floor(Math.random() * 0xfffff).toString(16).padStart(5, '0');
const bridge = `skein-t${tag}`;
const octet = 200 + Math.floor(Math.random() * 50);
const gateway = `10.${octet}.7.1`;
const dir = mkdtempSync(join(tmpdir(), 'skein-netns-'));
const pods = [podNetworkNames(`a${tag}aaaaaaaaaaaa`), podNetworkNames(`b${tag}bbbbbbbbbbbb`)];
const state = { bridge, netns: pods.map((p) => p.netns), veths: pods.map((p) => p.hostVeth), iptables: [], mountPoints: [] };

async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('pod network (netns + veth + bridge)', () => {
  beforeAll(async () => {
    await ensureBridge(tools, bridge, gateway, 24);
    for (const [i, p] of pods.entries()) {
      await createPodNetwork(tools, bridge, { ...p, ip: `10.${octet}.7.${10 + i}`, prefix: 24, gateway });
      writeNetnsEtc(p.netns, podHostsFile(`pod-${i}`, `10.${octet}.7.${10 + i}`, `10.${octet}.7.10\tserver-pod`), podResolvConf('default'));
    }
  });

  afterAll(async () => {
    await cleanupHostState(tools, state);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives a pod loopback, its IP on eth0 and a default route via the bridge gateway', async () => {
    const { stdout: addr } = await run(tools.ip, ['-n', pods[0]!.netns, '-4', 'addr', 'show']);
    expect(addr).toMatch(/inet 127\.0\.0\.1\/8/);
    expect(addr).toContain(`inet 10.${octet}.7.10/24`);
    const { stdout: route } = await run(tools.ip, ['-n', pods[0]!.netns, 'route']);
    expect(route).toContain(`default via ${gateway} dev eth0`);
  });

  it('runs a process in a pod as another user with its hostname and hosts file, and serves HTTP to the other pod', async () => {
    const server = `require('http').createServer((q,s)=>s.end(require('os').hostname()+' uid='+process.getuid()+' '+process.env.GREETING)).listen(8080,'0.0.0.0')`;
    const child = launchContainer(tools, {
      netns: pods[0]!.netns, hostname: 'server-pod', argv: [PINNED_NODE, '-e', server], env: { GREETING: 'hi' }, workingDir: '/tmp',
      uid: 2102, gid: 2102, mounts: [], launcherPath: join(dir, 'server.sh'), logPath: join(dir, 'server.log'),
    });
    try {
      const logPath = join(dir, 'client.log');
      const body = await waitFor(async () => {
        const c = launchContainer(tools, {
          netns: pods[1]!.netns, hostname: 'client-pod', env: {}, workingDir: '/', mounts: [],
          argv: [PINNED_NODE, '-e', `fetch('http://server-pod:8080/').then(r=>r.text()).then(t=>console.log('BODY:'+t)).catch(e=>{console.log('ERR:'+e.cause?.code);process.exit(3)})`],
          launcherPath: join(dir, 'client.sh'), logPath,
        });
        const [code] = await once(c, 'exit');
        const line = readFileSync(logPath, 'utf8').split('\n').find((l) => l.startsWith('BODY:'));
        return code === 0 && line ? line : undefined;
      });
      expect(body).toBe('BODY:server-pod uid=2102 hi');
    } finally {
      signalGroup(child.pid, 'SIGKILL');
    }
  });

  it('cleanup removes every namespace, veth and the bridge', async () => {
    await cleanupHostState(tools, state);
    const ns = await listNetns(tools);
    for (const p of pods) {
      expect(ns).not.toContain(p.netns);
      expect(await linkExists(tools, p.hostVeth)).toBe(false);
      expect(existsSync(join('/etc/netns', p.netns))).toBe(false);
    }
    expect(await linkExists(tools, bridge)).toBe(false);
  });
});
