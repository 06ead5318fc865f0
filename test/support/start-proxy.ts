// Builds a hostile-input test config (one listener and the admin on port 0) and runs the proxy in-process; or runs a real
// `skein proxy` process (startProxyProcess).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { ProxyConfig } from '../../api/config/proxy-config.ts';
import { startProxy, type RunningProxy } from '../../proxy/proxy-process.ts';

export interface HostileProxyOptions {
  /** Port of the upstream that the catch-all route sends to. */
  readonly upstreamPort: number;
  readonly upstreamProtocol?: 'http1' | 'http2';
  readonly direction?: 'inbound' | 'outbound' | 'ingress';
  readonly mode?: 'sidecar' | 'ingress';
  readonly protocol?: 'detect' | 'http' | 'tcp';
  readonly limits?: Record<string, number>;
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly listenerHostnames?: readonly string[] };
  /** Virtual host domains (default `*`). */
  readonly domains?: readonly string[];
  /** Extra routes placed before the catch-all. */
  readonly routes?: readonly Record<string, unknown>[];
  /** The upstream cluster's load balancer (default round robin). */
  readonly loadBalancer?: Record<string, unknown>;
}

/** The file form of the config (what `skein proxy --config` reads). */
export function hostileConfigDocument(o: HostileProxyOptions): Record<string, unknown> {
  const mode = o.mode ?? (o.direction === 'ingress' ? 'ingress' : 'sidecar');
  return {
    version: 'hostile-test',
    mode,
    admin: { address: '127.0.0.1', port: 0 },
    listeners: [
      {
        name: 'main',
        address: '127.0.0.1',
        port: 0,
        direction: o.direction ?? (mode === 'ingress' ? 'ingress' : 'outbound'),
        protocol: o.protocol ?? 'detect',
        ...(o.tls ? { tls: { certFile: o.tls.certFile, keyFile: o.tls.keyFile, ...(o.tls.listenerHostnames ? { listenerHostnames: o.tls.listenerHostnames } : {}) } } : {}),
        virtualHosts: [
          {
            name: 'all',
            domains: o.domains ?? ['*'],
            routes: [...(o.routes ?? []), { name: 'catch-all', backends: [{ cluster: 'up' }] }],
          },
        ],
      },
    ],
    clusters: [
      {
        name: 'up',
        protocol: o.upstreamProtocol ?? 'http1',
        loadBalancer: o.loadBalancer ?? { policy: 'round-robin' },
        endpoints: [{ address: '127.0.0.1', port: o.upstreamPort }],
      },
    ],
    limits: o.limits ?? {},
  };
}

export function hostileConfig(o: HostileProxyOptions): ProxyConfig {
  const parsed = parseProxyConfig(hostileConfigDocument(o));
  if (!parsed.ok) throw new Error(`invalid test config: ${JSON.stringify(parsed.error)}`);
  return parsed.value;
}

export interface HostileProxy {
  readonly proxy: RunningProxy;
  /** The listener's bound port. */
  readonly port: number;
  close(): Promise<void>;
}

export async function startHostileProxy(o: HostileProxyOptions): Promise<HostileProxy> {
  const proxy = await startProxy(hostileConfig(o));
  const port = proxy.listeners.get('main')!.port;
  return { proxy, port, close: () => proxy.close() };
}

/** A free loopback port (listeners shared by worker processes need fixed ports: port 0 would be one socket for all). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ProxyProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Runs `skein proxy --config FILE ...args` as a real process (bin/skein.mjs, as in a pod) and resolves once its admin
 * /ready and every listed port answer. `config` is the file form; it needs fixed ports (see freePort).
 */
export async function startProxyProcess(config: Record<string, unknown>, args: readonly string[], ports: readonly number[]): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'skein-proxy-process-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'skein.mjs');
  const child = spawn(process.execPath, [bin, 'proxy', '--config', file, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const admin = (config as { admin: { port: number } }).admin.port;
  const deadline = Date.now() + 30_000;
  const answers = (port: number, path: string | null): Promise<boolean> =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('error', () => resolve(false));
      s.once('connect', () => {
        if (path === null) {
          s.destroy();
          return resolve(true);
        }
        s.write(`GET ${path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n`);
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.once('close', () => resolve(got.startsWith('HTTP/1.1 200')));
      });
    });
  for (;;) {
    if ((await answers(admin, '/ready')) && (await Promise.all(ports.map((p) => answers(p, null)))).every(Boolean)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`proxy did not become ready: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    exited,
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
