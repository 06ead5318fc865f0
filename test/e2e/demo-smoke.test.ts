// e2e: `skein demo [--smoke]` as a user runs it: every part that exists passes, unbuilt parts say so, the demo keeps traffic
// flowing through web -> api -> echo until Ctrl-C, and nothing is left running.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterStateDir } from '../../local-cluster/state-file.ts';
import { journeyHops, requestCountsByDirection } from '../../local-cluster/demo-journey.ts';
import { processAlive, waitFor } from './wait-for.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const skein = join(repo, 'bin', 'skein.mjs');

describe('skein demo --smoke', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'skein-demo-'));
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('passes every part that exists (a request web -> api -> echo through the sidecars, their metrics in Prometheus), reports the rest as not built yet, and cleans up', async () => {
    let demoPid = 0;
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [skein, 'demo', '--smoke', '--work-dir', workDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      demoPid = child.pid!;
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(stdout, stderr).toContain('skein demo --smoke summary:');
    for (const part of ['local cluster', 'node', 'prometheus', 'jaeger']) expect(stdout).toMatch(new RegExp(`${part}\\s+PASS`));
    expect(stdout).not.toMatch(/\bFAIL\b/);
    // The demo's own journey: deployed from examples/demo/, one request through every sidecar, metrics scraped from them.
    expect(stdout).toMatch(/example services\s+PASS/);
    expect(stdout).toMatch(/request web -> api -> echo\s+PASS\s+http:\/\/10\.245\.\d+\.\d+:8080\/smoke-journey answered through web-\S+ -> api-\S+ -> echo-\S+; sidecar requests web inbound \+\d+, web outbound \+\d+, api inbound \+\d+, api outbound \+\d+, echo inbound \+\d+/);
    // One traced request read back from Jaeger's query API: a span from every proxy hop (inbound and its attempt at each
    // app, outbound and its attempt at each caller), each hop parented on the one before (local-cluster/demo-trace-check.ts).
    expect(stdout).toMatch(/trace in Jaeger\s+PASS\s+trace [0-9a-f]{32}: \d+ spans from api\.skein-demo, echo\.skein-demo, web\.skein-demo, each hop parented on the one before/);
    expect(stdout).toMatch(/traffic generator\s+PASS/);
    // The shipped dashboards against the demo's Prometheus, which scrapes with the shipped jobs: all targets up, every query
    // runs and names only metrics and labels that exist (local-cluster/dashboard-check.ts).
    expect(stdout).toMatch(/dashboards\s+PASS\s+\d+ queries of 4 dashboards run, every metric and label found .*targets up: skein-proxies [1-9]\d*, skein-control-plane 2, skein-injector 2/);
    expect(stdout).toMatch(/metrics in Prometheus\s+PASS\s+.*web inbound=\d+, api inbound=\d+, echo inbound=\d+, web outbound=\d+, api outbound=\d+, loadgen outbound=\d+/);
    // ... and opaque TCP: the traffic generator's exchanges with echo's TCP echo, seen by both sidecars (the TCP panels' series).
    expect(stdout).toMatch(/metrics in Prometheus\s+PASS\s+.*TCP connections closed: echo inbound=\d+, loadgen outbound=\d+/);
    // Parts that do not exist are never reported as a pass: without the control plane and the ingress, mTLS and the
    // ingress request are not built yet.
    const hasControlPlane = existsSync(join(repo, 'manifests', 'control-plane'));
    const hasIngress = existsSync(join(repo, 'manifests', 'ingress'));
    if (!hasIngress) {
      expect(stdout).toMatch(/request ingress -> web -> api -> echo\s+NOT BUILT YET\s+needs the ingress/);
      expect(stdout).toMatch(/\n\s+ingress\s+NOT BUILT YET/);
    }
    if (!hasControlPlane) {
      expect(stdout).toMatch(/mTLS between sidecars\s+NOT BUILT YET\s+needs the control plane/);
      expect(stdout).toMatch(/control plane\s+NOT BUILT YET/);
    }
    // A part that ships manifests must really be checked, not skipped.
    for (const part of ['injector', 'control-plane', 'ingress']) {
      if (existsSync(join(repo, 'manifests', part))) expect(stdout).toMatch(new RegExp(`${part.replace('-', ' ')}\\s+(PASS|NOT BUILT YET\\s+manifests/)`));
    }
    if (existsSync(join(repo, 'manifests', 'injector'))) expect(stdout).toMatch(/injector\s+PASS/);
    // The control plane is checked for real: every demo sidecar holds config it pushed.
    if (hasControlPlane) expect(stdout).toMatch(/control plane\s+PASS\s+\d+ sidecars in skein-demo SYNCED/);
    // ... and their certificates: echo sees api's verified SPIFFE id, which a sidecar sets only from a client certificate.
    if (hasControlPlane) expect(stdout).toMatch(/mTLS between sidecars\s+PASS\s+echo saw its caller as spiffe:\/\/cluster\.local\/ns\/skein-demo\/sa\/default/);
    // The ingress is checked for real: its GatewayClass accepted, and a request from this machine through it and the chain.
    if (hasIngress) expect(stdout).toMatch(/\n\s+ingress\s+PASS\s+skein-system\/skein-ingress available; GatewayClass skein Accepted/);
    if (hasIngress) expect(stdout).toMatch(/request ingress -> web -> api -> echo\s+PASS\s+http:\/\/10\.245\.\d+\.\d+:80\/ answered through web-\S+ -> api-\S+ -> echo-\S+/);
    expect(code).toBe(0);

    // Every process the demo started (they log "pid N") is gone, and so are the pod network's namespaces and links.
    const pids = [...stderr.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids.length).toBeGreaterThanOrEqual(4);
    expect(pids.filter(processAlive)).toEqual([]);
    // The demo's records (cluster, Prometheus, Jaeger) are gone: it stopped everything itself.
    expect(readdirSync(clusterStateDir()).filter((f) => f.startsWith(`${demoPid}-`))).toEqual([]);
    // One real node per machine (its lock): every pod network namespace (cni-*) was the demo's.
    const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('cni-'));
    expect(netns).toEqual([]);
  });

  it('skein demo prints where web, Prometheus, Jaeger and the kubeconfig are, keeps traffic flowing, and stops on Ctrl-C', async () => {
    const demoDir = mkdtempSync(join(tmpdir(), 'skein-demo-run-'));
    const child = spawn(process.execPath, [skein, 'demo', '--work-dir', demoDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    try {
      // About 2 min on a quiet machine; the bound is for a hung demo, not a slow one (at load 20 it took over 5 min).
      await waitFor('the demo to print where everything is', async () => (stdout.includes('Traffic keeps flowing until you press Ctrl-C.') ? true : undefined), 600_000, 500);
      expect(stderr).not.toMatch(/: fail \(/);
      const web = /web:\s+http:\/\/(10\.245\.\d+\.\d+):8080\//.exec(stdout)?.[1];
      expect(web, stdout).toBeDefined();
      expect(stdout).toMatch(/Prometheus:\s+http:\/\/127\.0\.0\.1:\d+\/graph\?g0\.expr=/);
      expect(stdout).toMatch(/Jaeger UI:\s+http:\/\/127\.0\.0\.1:\d+/);
      if (existsSync(join(repo, 'manifests', 'ingress'))) expect(stdout).toMatch(/ingress:\s+http:\/\/10\.245\.\d+\.\d+:80\/ /);
      expect(stdout).toContain(`kubeconfig:  export KUBECONFIG=${join(demoDir, 'cluster', 'admin.kubeconfig')}`);
      // What the printout promises: web answers from this machine through api and echo.
      const hops = journeyHops(await (await fetch(`http://${web}:8080/from-the-test`)).text());
      expect(hops.map((h) => h.pod.replace(/-[^-]+-[^-]+$/, ''))).toEqual(['web', 'api', 'echo']);
      // The traffic generator keeps web's sidecar busy without us: its inbound counter climbs on its own.
      const inbound = async (): Promise<number> => requestCountsByDirection(await (await fetch(`http://${web}:15020/stats/prometheus`)).text()).inbound ?? 0;
      const start = await inbound();
      await waitFor('loadgen traffic through web\'s sidecar', async () => ((await inbound()) >= start + 4 ? true : undefined), 30_000, 500);
    } finally {
      child.kill('SIGINT');
      const end = await exited;
      // Ctrl-C: everything stops, then the signal is re-raised (the shell sees an interrupted command).
      expect(end.signal ?? end.code, stderr.slice(-2000)).toBe('SIGINT');
      rmSync(demoDir, { recursive: true, force: true });
    }
    const pids = [...stderr.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids.filter(processAlive)).toEqual([]);
    expect(readdirSync(clusterStateDir()).filter((f) => f.startsWith(`${child.pid}-`))).toEqual([]);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('cni-'))).toEqual([]);
  }, 900_000);
});
