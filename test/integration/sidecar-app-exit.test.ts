// A Job's pod in regular-container mode: with a shared process namespace, `skein proxy --sidecar` and SKEIN_EXIT_ON_APP_EXIT
// drains and exits 0 once the app's processes are gone, so the pod can complete. Real PID and network namespaces; the
// pod's pid 1 is a shell, as the pause process is in a pod.
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asProxyUid } from '../support/proxy-uid.ts';

const tag = `${process.pid % 10000}`;
const root = new URL('../..', import.meta.url).pathname;
const asProxy = [...asProxyUid(), process.execPath, `${root}bin/skein.mjs`];
const quote = (args: readonly string[]): string => args.map((a) => `'${a}'`).join(' ');
let dir: string;

interface Pod {
  readonly netns: string;
  output(): string;
  readonly exited: Promise<number | null>;
  kill(): void;
}
const pods: Pod[] = [];

/** Runs `script` as pid 1 of a new PID namespace inside a new network namespace (lo up), collecting its output. */
function startPod(name: string, script: string): Pod {
  const netns = `skein-exit-${name}-${tag}`;
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, 'unshare', '--pid', '--fork', '--mount-proc', 'sh', '-c', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SKEIN_POD_NAME: 'job-pod', SKEIN_POD_NAMESPACE: 'test', SKEIN_EXIT_ON_APP_EXIT: 'true', SKEIN_NATIVE_CACHE: join(dir, 'native') },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const pod: Pod = {
    netns,
    output: () => out,
    exited: new Promise((r) => child.once('exit', (code) => r(code))),
    kill: () => {
      child.kill('SIGKILL');
      spawnSync('ip', ['netns', 'delete', netns]);
    },
  };
  pods.push(pod);
  return pod;
}

/** Polls the proxy's admin /ready from inside the pod's network namespace until it answers 200 or the deadline passes. */
async function proxyReady(pod: Pod, deadlineMs = 20_000): Promise<string> {
  const script = `const t=Date.now();const go=()=>require('http').get('http://127.0.0.1:15000/ready',r=>{r.resume();if(r.statusCode===200)console.log('ready');else if(Date.now()-t<${deadlineMs})setTimeout(go,50);else console.log('status '+r.statusCode)}).on('error',e=>{if(Date.now()-t<${deadlineMs})setTimeout(go,50);else console.log('ERR '+e.code)});go();`;
  const { stdout } = await promisify(execFile)('ip', ['netns', 'exec', pod.netns, process.execPath, '-e', script], { encoding: 'utf8', timeout: 30_000 });
  return stdout.trim();
}

async function exitCode(pod: Pod, timeoutMs = 20_000): Promise<number | null | 'timeout'> {
  return Promise.race([pod.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs))]);
}

describe('sidecar exits when the app exits (SKEIN_EXIT_ON_APP_EXIT)', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'skein-app-exit-'));
    execFileSync('chmod', ['755', dir]);
    mkdirSync(join(dir, 'native'));
    execFileSync('chmod', ['777', join(dir, 'native')]);
  });
  afterAll(() => {
    for (const p of pods) p.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving while a long-running app runs, then drains and exits 0 when it ends', async () => {
    // The app: a root process the test ends from outside the pod (its argument is unique to this run).
    const app = `sleep 7${tag}`;
    const pod = startPod('long', `${app} & ${quote([...asProxy, 'proxy', '--sidecar'])}; echo "proxy exited with $?"`);
    try {
      expect(await proxyReady(pod)).toBe('ready');
      expect(pod.output()).toContain('exiting when the app exits');
      // Until the proxy has seen the app it cannot tell an exit from a late start: wait for it to say so.
      const deadline = Date.now() + 20_000;
      while (!pod.output().includes('the app is running') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(pod.output()).toContain('"the app is running","processes":"2:sleep"');
      expect(await proxyReady(pod)).toBe('ready');
      expect(pod.output()).not.toContain('proxy exited');

      expect(spawnSync('pkill', ['-TERM', '-x', '-f', app]).status).toBe(0); // the app ends
      expect(await exitCode(pod), pod.output()).toBe(0);
      expect(pod.output()).toContain('the app exited');
      expect(pod.output()).toContain('proxy exited with 0');
    } finally {
      spawnSync('pkill', ['-KILL', '-x', '-f', app]);
    }
  });

  it('notices an app that ends before any scan could see it, through the postStart handoff', async () => {
    // As the kubelet does in regular mode: the proxy, then its postStart hook (`skein wait-ready`, as the proxy's UID),
    // and only after the hook the app, which here is over within milliseconds.
    const script = [
      `${quote([...asProxy, 'proxy', '--sidecar'])} & P=$!`,
      `${quote([...asProxy, 'wait-ready', '--url', 'http://127.0.0.1:15020/ready', '--timeout-seconds', '30'])} || echo "hook failed"`,
      '/bin/true',
      'wait $P; echo "proxy exited with $?"',
    ].join('\n');
    const pod = startPod('short', script);
    expect(await exitCode(pod), pod.output()).toBe(0);
    expect(pod.output()).not.toContain('hook failed');
    expect(pod.output()).toContain('the app is starting (postStart hook done)');
    expect(pod.output()).toContain('(ended before a scan saw it)');
    expect(pod.output()).toContain('proxy exited with 0');
  });
});
