// Records every host object the node agent creates (netns, veths, bridge, iptables rules, mount points) in a state file,
// so the next start can remove exactly what a crashed run left behind.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeAgentError } from './node-agent-error.ts';

export interface HostStateData {
  ownerPid: number;
  nodeName: string;
  bridge?: string;
  netns: string[];
  veths: string[];
  /** Each rule as the iptables arguments after `-A`/`-D` (table first as `-t`, chain, spec). */
  iptables: string[][];
  /** Directories the agent created on the host as bind-mount targets (removed when empty). */
  mountPoints: string[];
}

export const DEFAULT_STATE_DIR = '/run/skein';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export class HostStateFile {
  readonly path: string;
  #data: HostStateData;

  constructor(nodeName: string, dir = DEFAULT_STATE_DIR) {
    this.path = join(dir, `node-agent-${nodeName}.json`);
    this.#data = { ownerPid: process.pid, nodeName, netns: [], veths: [], iptables: [], mountPoints: [] };
  }

  /** The previous run's record, or undefined. Throws when another live process owns it (two agents for one node). */
  readPrevious(): HostStateData | undefined {
    let prev: HostStateData;
    try {
      prev = JSON.parse(readFileSync(this.path, 'utf8')) as HostStateData;
    } catch {
      return undefined;
    }
    if (prev.ownerPid !== process.pid && alive(prev.ownerPid)) {
      throw new NodeAgentError('SKEIN_ERR_NODE_AGENT_RUNNING', `node ${prev.nodeName} is already run by process ${prev.ownerPid} (${this.path})`);
    }
    return { ...prev, netns: prev.netns ?? [], veths: prev.veths ?? [], iptables: prev.iptables ?? [], mountPoints: prev.mountPoints ?? [] };
  }

  get data(): Readonly<HostStateData> {
    return this.#data;
  }

  update(fn: (d: HostStateData) => void): void {
    fn(this.#data);
    this.#data.netns = [...new Set(this.#data.netns)];
    this.#data.veths = [...new Set(this.#data.veths)];
    this.#data.mountPoints = [...new Set(this.#data.mountPoints)];
    mkdirSync(join(this.path, '..'), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.#data, null, 2));
    renameSync(tmp, this.path);
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
