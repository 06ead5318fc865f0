// The proxy as a user runs it: `skein proxy --config FILE` — invalid configs, admin endpoints, SIGTERM drain.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h1Request } from '../support/clients.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'skein-proxy-test-'));

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(root, 'bin', 'skein.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the proxy as a child process and resolves once its admin /ready answers 200 (polled with a deadline). */
async function startProxyProcess(config: object): Promise<{ child: ChildProcess; exited: Promise<number | null>; stderr: () => string }> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [join(root, 'bin', 'skein.mjs'), 'proxy', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const admin = (config as { admin: { port: number } }).admin.port;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await h1Request(admin, '/ready').then((r) => r.status === 200, () => false);
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`proxy did not become ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, exited, stderr: () => stderr };
}

describe('skein proxy --config', () => {
  it('rejects an invalid config naming every bad field, without a stack trace', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'listeners:',
        '  - name: l',
        '    port: 99999',
        '    colour: blue',
        '    virtualHosts:',
        '      - name: v',
        '        routes:',
        '          - name: r',
        '            backends: [{ cluster: nowhere }]',
        'clusters:',
        '  - name: c',
        '    loadBalancer: { policy: fastest }',
      ].join('\n'),
    );
    const r = await runCli(['proxy', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('listeners[0].port');
    expect(r.stderr).toContain('listeners[0].colour: unknown field');
    expect(r.stderr).toContain('clusters[0].loadBalancer.policy: must be one of');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects a reference to an unknown cluster and a bad regular expression', async () => {
    const file = join(dir, 'bad-refs.json');
    writeFileSync(
      file,
      JSON.stringify({
        listeners: [{ name: 'l', port: 1, virtualHosts: [{ name: 'v', routes: [{ name: 'r', match: { path: { type: 'regex', value: '(a' } }, backends: [{ cluster: 'nowhere' }] }] }] }],
        clusters: [],
      }),
    );
    const r = await runCli(['proxy', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('listeners[0].virtualHosts[0].routes[0].backends[0].cluster: unknown cluster "nowhere"');
    expect(r.stderr).toContain('listeners[0].virtualHosts[0].routes[0].match.path.value: invalid regular expression');
  });

  it('reports unreadable and unparsable files clearly', async () => {
    const missing = await runCli(['proxy', '--config', join(dir, 'missing.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read config file');
    const file = join(dir, 'garbage.yaml');
    writeFileSync(file, 'listeners: [ {');
    const garbage = await runCli(['proxy', '--config', file]);
    expect(garbage.code).not.toBe(0);
    expect(garbage.stderr).toContain('not valid YAML/JSON');
  });

  it('validates the example config', async () => {
    const r = await runCli(['proxy', '--config', join(root, 'examples', 'proxy', 'static-proxy.yaml'), '--check']);
    expect(r.stdout).toContain('valid');
    expect(r.code).toBe(0);
  });
});

describe('a running proxy process', () => {
  let upstream: Upstream;
  let slowServer: http.Server;
  let slowPort: number;
  let releaseSlow: (() => void) | null = null;
  let slowArrived: Promise<void>;
  let markArrived: () => void;

  beforeAll(async () => {
    upstream = await startHttpUpstream('h1');
    slowArrived = new Promise((r) => (markArrived = r));
    slowServer = http.createServer((_req, res) => {
      markArrived();
      releaseSlow = () => res.end('finished after drain started');
    });
    await new Promise<void>((r) => slowServer.listen(0, '127.0.0.1', () => r()));
    slowPort = (slowServer.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await upstream.close();
    slowServer.closeAllConnections();
    slowServer.close();
  });

  it('answers the admin endpoints and counts requests by route and code in /metrics', async () => {
    const admin = await freePort();
    const listen = await freePort();
    const { child, exited } = await startProxyProcess({
      version: 'v-admin-test',
      admin: { address: '127.0.0.1', port: admin },
      listeners: [{ name: 'out', address: '127.0.0.1', port: listen, virtualHosts: [{ name: 'v', routes: [{ name: 'all', backends: [{ cluster: 'app' }] }] }] }],
      clusters: [{ name: 'app', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }],
    });
    try {
      expect((await h1Request(listen, '/x')).status).toBe(200);
      expect((await h1Request(admin, '/live')).status).toBe(200);
      const metrics = (await h1Request(admin, '/metrics')).body.toString();
      expect(metrics).toMatch(/skein_requests_total\{listener="out",direction="outbound",route="all",cluster="app",code="200",grpc_status="",mtls="false",[^}]*\} 1/);
      expect(metrics).toContain('skein_request_duration_seconds_bucket');
      const dump = JSON.parse((await h1Request(admin, '/config_dump')).body.toString());
      expect(dump.version).toBe('v-admin-test');
      expect(dump.config.clusters[0].name).toBe('app');
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('on SIGTERM stops accepting, lets the in-flight request finish, and exits 0', async () => {
    const admin = await freePort();
    const listen = await freePort();
    const { child, exited, stderr } = await startProxyProcess({
      admin: { address: '127.0.0.1', port: admin },
      drainTimeoutMs: 20_000,
      listeners: [{ name: 'out', address: '127.0.0.1', port: listen, virtualHosts: [{ name: 'v', routes: [{ name: 'all', backends: [{ cluster: 'slow' }] }] }] }],
      clusters: [{ name: 'slow', endpoints: [{ address: '127.0.0.1', port: slowPort }] }],
    });
    const inFlight = h1Request(listen, '/slow');
    await slowArrived;
    child.kill('SIGTERM');
    // Poll until the proxy reports draining (readiness goes 503 or the admin closes), then check new connections are refused.
    const deadline = Date.now() + 10_000;
    while (!stderr().includes('"draining"')) {
      if (Date.now() > deadline) throw new Error('proxy never started draining');
      await new Promise((r) => setTimeout(r, 20));
    }
    const refused = await h1Request(listen, '/new').then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET');
    expect(refused).toBe(true);
    expect(child.exitCode).toBeNull(); // still waiting for the in-flight request
    releaseSlow!();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('finished after drain started');
    expect(await exited).toBe(0);
  });
});
