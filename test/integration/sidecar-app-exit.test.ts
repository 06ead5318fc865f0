// A Job's pod in regular-container mode: with a shared process namespace, `skein proxy --sidecar` and SKEIN_EXIT_ON_APP_EXIT
// drains and exits 0 once the app's processes are gone, so the pod can complete. Real PID and network namespaces.
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_UID } from '../../api/mesh/mesh-constants.ts';

const tag = `${process.pid % 10000}`;
const podNs = `skein-exit-pod-${tag}`;
const root = new URL('../..', import.meta.url).pathname;
let dir: string;
let pod: ChildProcess | undefined;
// The app: a process the test can find and end from outside the pod's PID namespace (its argument is unique to this run).
const appCommand = `sleep 7${tag}`;

/** Asynchronous, so the pod's output keeps being collected meanwhile. */
async function nsExec(args: string[]): Promise<string> {
  return (await promisify(execFile)('ip', ['netns', 'exec', podNs, ...args], { encoding: 'utf8', timeout: 30_000 })).stdout;
}

/** Polls the proxy's admin /ready from inside the pod's network namespace until it answers 200 or the deadline passes. */
async function proxyReady(deadlineMs = 20_000): Promise<string> {
  const script = `const t=Date.now();const go=()=>require('http').get('http://127.0.0.1:15000/ready',r=>{r.resume();if(r.statusCode===200)console.log('ready');else if(Date.now()-t<${deadlineMs})setTimeout(go,50);else console.log('status '+r.statusCode)}).on('error',e=>{if(Date.now()-t<${deadlineMs})setTimeout(go,50);else console.log('ERR '+e.code)});go();`;
  return (await nsExec([process.execPath, '-e', script])).trim();
}

describe('sidecar exits when the app exits (SKEIN_EXIT_ON_APP_EXIT)', () => {
  let output = '';
  let exited: Promise<number | null>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'skein-app-exit-'));
    execFileSync('chmod', ['755', dir]);
    mkdirSync(join(dir, 'native'), { mode: 0o777 });
    execFileSync('chmod', ['777', join(dir, 'native')]);
    execFileSync('ip', ['netns', 'add', podNs]);
    execFileSync('ip', ['-n', podNs, 'link', 'set', 'lo', 'up']);
    // pid 1 of the new PID namespace is the shell (as the pause process is in a pod); the app is a root process the test
    // ends; the proxy runs as its own UID, as the injected container does.
    const proxy = ['setpriv', `--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', '--', process.execPath, `${root}bin/skein.mjs`, 'proxy', '--sidecar'];
    const script = `${appCommand} & ${proxy.map((a) => `'${a}'`).join(' ')}; echo "proxy exited with $?"`;
    pod = spawn('ip', ['netns', 'exec', podNs, 'unshare', '--pid', '--fork', '--mount-proc', 'sh', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SKEIN_POD_NAME: 'job-pod', SKEIN_POD_NAMESPACE: 'test', SKEIN_EXIT_ON_APP_EXIT: 'true', SKEIN_NATIVE_CACHE: join(dir, 'native') },
    });
    pod.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    pod.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    exited = new Promise((r) => pod!.once('exit', (code) => r(code)));
  });
  afterAll(() => {
    pod?.kill('SIGKILL');
    spawnSync('pkill', ['-KILL', '-x', '-f', appCommand]);
    spawnSync('ip', ['netns', 'delete', podNs]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving while the app runs, then drains and exits 0 when it ends', async () => {
    expect(await proxyReady()).toBe('ready');
    expect(output).toContain('exiting when the app exits');
    expect(output).not.toContain('proxy exited');
    // Until the proxy has seen the app it cannot tell an exit from a late start: wait for it to say so.
    const deadline = Date.now() + 20_000;
    while (!output.includes('the app is running') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(output).toContain('"the app is running","processes":"2:sleep"');
    expect(await proxyReady()).toBe('ready');

    expect(spawnSync('pkill', ['-TERM', '-x', '-f', appCommand]).status).toBe(0); // the app ends
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    expect(code, output).toBe(0);
    expect(output).toContain('the app exited');
    expect(output).toContain('proxy exited with 0');
  });
});
