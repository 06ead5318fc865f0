// Integration test: a node agent that crashed leaves namespaces, veths, a bridge and running processes; the next start
// removes exactly what its state file lists, and refuses to touch a node another live agent owns.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostTools } from '../../local-cluster/node-agent/host-tools.ts';
import { cleanupHostState, createPodNetwork, ensureBridge, linkExists, listNetns, podNetworkNames } from '../../local-cluster/node-agent/host-network.ts';
import { HostStateFile } from '../../local-cluster/node-agent/host-state.ts';
import { launchContainer } from '../../local-cluster/node-agent/container-process.ts';

const tools = hostTools();
const tag = Math.floor(Math.random() * 0xfffff).toString(16).padStart(5, '0');
const dir = mkdtempSync(join(tmpdir(), 'skein-stale-'));
const bridge = `skein-s${tag}`;
const net = podNetworkNames(`c${tag}cccccccccccc`);
const octet = 200 + Math.floor(Math.random() * 50);

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

describe('stale state cleanup', () => {
  afterAll(async () => {
    await cleanupHostState(tools, { bridge, netns: [net.netns], veths: [net.hostVeth], iptables: [], mountPoints: [] });
    rmSync(dir, { recursive: true, force: true });
  });

  it('removes the namespaces, veths, bridge, mount points and processes a dead agent recorded', async () => {
    await ensureBridge(tools, bridge, `10.${octet}.9.1`, 24);
    await createPodNetwork(tools, bridge, { ...net, ip: `10.${octet}.9.5`, prefix: 24, gateway: `10.${octet}.9.1` });
    const leftover = launchContainer(tools, {
      netns: net.netns, hostname: 'orphan', argv: ['sleep', '300'], env: {}, workingDir: '/', mounts: [],
      launcherPath: join(dir, 'orphan.sh'), logPath: join(dir, 'orphan.log'),
    });
    leftover.unref();
    const mountPoint = join(dir, 'created-mount-point');
    mkdirSync(mountPoint);
    const dead = spawnSync('true').pid!; // a pid that no longer runs
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir);
    writeFileSync(join(stateDir, `node-agent-stale-${tag}.json`), JSON.stringify({
      ownerPid: dead, nodeName: `stale-${tag}`, bridge, netns: [net.netns], veths: [net.hostVeth], iptables: [], mountPoints: [mountPoint],
    }));
    expect(await listNetns(tools)).toContain(net.netns);
    expect(alive(leftover.pid!)).toBe(true);

    const prev = new HostStateFile(`stale-${tag}`, stateDir).readPrevious();
    expect(prev?.netns).toEqual([net.netns]);
    const exited = once(leftover, 'exit');
    await cleanupHostState(tools, prev!);
    await exited;
    expect(alive(leftover.pid!)).toBe(false);
    expect(await listNetns(tools)).not.toContain(net.netns);
    expect(await linkExists(tools, net.hostVeth)).toBe(false);
    expect(await linkExists(tools, bridge)).toBe(false);
    expect(existsSync(mountPoint)).toBe(false);
  });

  it('refuses to take over a node whose recorded owner still runs', async () => {
    const owner = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const stateDir = join(dir, 'live');
      mkdirSync(stateDir);
      writeFileSync(join(stateDir, 'node-agent-busy.json'), JSON.stringify({ ownerPid: owner.pid, nodeName: 'busy', netns: [], veths: [], iptables: [], mountPoints: [] }));
      expect(() => new HostStateFile('busy', stateDir).readPrevious()).toThrow(expect.objectContaining({ code: 'SKEIN_ERR_NODE_AGENT_RUNNING' }));
    } finally {
      owner.kill('SIGKILL');
    }
  });
});
