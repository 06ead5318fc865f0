// Live config on a real proxy with real upstreams on loopback: 100 edits a second under steady HTTP/1.1 and HTTP/2
// traffic lose nothing and converge to the last edit; an invalid edit is refused whole and changes nothing; listeners
// come and go at runtime; a listener that cannot bind is refused; the config file is watched and reloaded.
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigDocument } from '../../cli/load-config-file.ts';
import { ConfigFileWatcher } from '../../proxy/config/config-file-watcher.ts';
import { H2Client, h1Request } from '../support/clients.ts';
import { until } from '../support/until.ts';
import { startTestProxy, testConfig, type TestProxy } from '../support/proxy-fixture.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';

const upstreamOf = (body: Buffer): string => (JSON.parse(body.toString()) as { id: string }).id;

let a1: Upstream, a2: Upstream, b: Upstream;
beforeAll(async () => {
  [a1, a2, b] = await Promise.all([startHttpUpstream('h1', { id: 'a1' }), startHttpUpstream('h2', { id: 'a2' }), startHttpUpstream('h1', { id: 'b' })]);
});
afterAll(async () => {
  for (const u of [a1, a2, b]) await u.close();
});

/** The file form of edit i: which cluster the route takes, a response header naming the edit, a's endpoints, a's idle timeout. */
function editDoc(i: number): Record<string, unknown> {
  return {
    version: `edit-${i}`,
    admin: { address: '127.0.0.1', port: 0 },
    listeners: [
      {
        name: 'test',
        address: '127.0.0.1',
        port: 0,
        virtualHosts: [
          {
            name: 'default',
            routes: [{ name: 'all', backends: [{ cluster: i % 3 === 2 ? 'b' : 'a' }], responseHeaders: { set: { 'x-edit': String(i) } } }],
          },
        ],
      },
    ],
    clusters: [
      {
        name: 'a',
        protocol: i % 4 < 2 ? 'http1' : 'http2',
        loadBalancer: { policy: 'round-robin' },
        // Endpoint-only changes, and cluster changes that replace the cluster's pools.
        idleTimeoutMs: 60_000 + (i % 5),
        endpoints: i % 4 < 2 ? [{ address: '127.0.0.1', port: a1.port }] : [{ address: '127.0.0.1', port: a2.port }],
      },
      { name: 'b', endpoints: [{ address: '127.0.0.1', port: b.port }] },
    ],
  };
}

describe('live config', () => {
  let proxy: TestProxy;
  beforeAll(async () => {
    proxy = await startTestProxy({ routes: [{ name: 'all', backends: [{ cluster: 'a' }] }], clusters: [{ name: 'a', endpoints: [{ address: '127.0.0.1', port: a1.port }] }] });
    // The starting config is edit 0's, applied as an edit.
    expect(await proxy.proxy.runtime.apply(testConfig(editDoc(0)))).toEqual({ ok: true });
  });
  afterAll(() => proxy.close());

  it('takes 100 edits a second under steady HTTP/1.1 and HTTP/2 traffic with no failed request, and converges to the last', async () => {
    let stop = false;
    const failures: string[] = [];
    let served = 0;
    /** The edits that answered requests: traffic ran through the storm, not only before or after it. */
    const editsSeen = new Set<string>();
    const h1Agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const h2 = new H2Client(proxy.port);
    const worker = async (send: () => Promise<{ status: number; headers: Record<string, unknown> }>): Promise<void> => {
      while (!stop) {
        try {
          const r = await send();
          served++;
          editsSeen.add(String(r.headers['x-edit'] ?? ''));
          if (r.status !== 200) failures.push(`status ${r.status} ${String(r.headers['x-skein-error'] ?? '')}`);
        } catch (e) {
          failures.push(`error ${(e as Error).message}`);
        }
      }
    };
    const workers = [
      ...Array.from({ length: 4 }, () => worker(() => h1Request(proxy.port, '/x', {}, h1Agent))),
      ...Array.from({ length: 2 }, () => worker(() => h2.request('/x'))),
    ];
    try {
      const started = Date.now();
      for (let i = 1; i <= 100; i++) {
        const outcome = await proxy.proxy.runtime.apply(testConfig(editDoc(i)));
        expect(outcome).toEqual({ ok: true });
        // Paced at 100 a second (the pace is the point, not a guess at a duration).
        const wait = started + i * 10 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    } finally {
      stop = true;
      await Promise.all(workers);
      h1Agent.destroy();
      h2.close();
    }
    expect(failures).toEqual([]);
    // However slow a loaded machine serves, requests were answered by many successive edits (a count of requests would
    // measure the machine's speed, not the proxy).
    expect(served).toBeGreaterThan(10);
    expect(editsSeen.size).toBeGreaterThanOrEqual(5);
    // The last edit serves (100 % 3 === 1: cluster a; 100 % 4 === 0: over HTTP/1.1 to a1), with its header.
    expect(proxy.proxy.runtime.version).toBe('edit-100');
    const r = await h1Request(proxy.port, '/x');
    expect(r.headers['x-edit']).toBe('100');
    expect(upstreamOf(r.body)).toBe('a1');
  });

  it('refuses an invalid edit whole, with every reason, and keeps serving the last good config', async () => {
    const runtime = proxy.proxy.runtime;
    const before = runtime.version;
    const outcome = await runtime.applyChangeSet({
      version: 'bad',
      upserts: [
        { type: 'cluster', name: 'b', version: 'b2', body: { name: 'b', endpoints: [{ address: '127.0.0.1', port: 0 }] } },
        { type: 'route-table', name: 'test', version: 't2', body: { name: 'test', virtualHosts: [{ name: 'default', routes: [{ name: 'all', backends: [{ cluster: 'nowhere' }] }] }] } },
        { type: 'cluster', name: 'c', version: 'c1', body: { name: 'c', endpoints: [{ address: '127.0.0.1', port: b.port }] } },
      ],
      removals: [],
    });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.reasons).toEqual([{ type: 'cluster', name: 'b', path: 'endpoints[0].port', message: 'must be >= 1' }]);
    // Bodies valid, a reference broken: the reference is named.
    const second = await runtime.applyChangeSet({
      version: 'bad-ref',
      upserts: [{ type: 'route-table', name: 'test', version: 't2', body: { name: 'test', virtualHosts: [{ name: 'default', routes: [{ name: 'all', backends: [{ cluster: 'nowhere' }] }] }] } }],
      removals: [{ type: 'cluster', name: 'b' }],
    });
    expect(second).toEqual({ ok: false, reasons: [{ type: 'route-table', name: 'test', path: 'virtualHosts[0].routes[0].backends[0].cluster', message: 'unknown cluster "nowhere"' }] });
    expect(runtime.version).toBe(before);
    expect(runtime.config.clusters.map((c) => c.name).sort()).toEqual(['a', 'b']);
    const r = await h1Request(proxy.port, '/x');
    expect(r.status).toBe(200);
    expect(r.headers['x-edit']).toBe('100');
    const dump = JSON.parse((await h1Request(proxy.proxy.admin.port, '/config_dump')).body.toString()) as {
      version: string;
      resources: { type: string; name: string; version: string }[];
      lastRejection: { version: string; reasons: unknown[] };
    };
    expect(dump.version).toBe(before);
    expect(dump.resources.map((x) => `${x.type}/${x.name}`).sort()).toEqual(['cluster/a', 'cluster/b', 'listener/test', 'route-table/test', 'settings/proxy']);
    expect(dump.resources.every((x) => x.version.length > 0)).toBe(true);
    expect(dump.lastRejection).toMatchObject({ version: 'bad-ref', reasons: second.ok ? [] : second.reasons });
    const metrics = (await h1Request(proxy.proxy.admin.port, '/metrics')).body.toString();
    expect(metrics).toMatch(/^skein_config_rejected_total\{resource_type="cluster"\} 1$/m);
    expect(metrics).toMatch(/^skein_config_rejected_total\{resource_type="route-table"\} 1$/m);
  });

  it('adds a listener at runtime and removes it again', async () => {
    const runtime = proxy.proxy.runtime;
    const add = await runtime.applyChangeSet({
      version: 'with-extra',
      upserts: [
        { type: 'listener', name: 'extra', version: 'x1', body: { name: 'extra', address: '127.0.0.1', port: 0, routeTable: 'extra' } },
        { type: 'route-table', name: 'extra', version: 'x1', body: { name: 'extra', virtualHosts: [{ name: 'all', routes: [{ name: 'to-b', backends: [{ cluster: 'b' }] }] }] } },
      ],
      removals: [],
    });
    expect(add).toEqual({ ok: true });
    const port = proxy.proxy.listeners.get('extra')!.port;
    expect(port).toBeGreaterThan(0);
    const r = await h1Request(port, '/y');
    expect(r.status).toBe(200);
    expect(upstreamOf(r.body)).toBe('b');
    // The first listener is untouched.
    expect((await h1Request(proxy.port, '/x')).status).toBe(200);

    const remove = await runtime.applyChangeSet({ version: 'without-extra', upserts: [], removals: [{ type: 'listener', name: 'extra' }, { type: 'route-table', name: 'extra' }] });
    expect(remove).toEqual({ ok: true });
    expect(proxy.proxy.listeners.has('extra')).toBe(false);
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect((await h1Request(proxy.port, '/x')).status).toBe(200);
  });

  it('a change to a listener alone (its rate limit) reaches the routes it serves, whose table did not change', async () => {
    const runtime = proxy.proxy.runtime;
    const listener = (rateLimit: Record<string, number> | null, v: string) => ({ type: 'listener' as const, name: 'limited', version: v, body: { name: 'limited', address: '127.0.0.1', port: 0, routeTable: 'limited', ...(rateLimit ? { rateLimit } : {}) } });
    const table = { type: 'route-table' as const, name: 'limited', version: 'l1', body: { name: 'limited', virtualHosts: [{ name: 'all', routes: [{ name: 'to-b', backends: [{ cluster: 'b' }] }] }] } };
    // One request's worth of tokens, refilled far too slowly to matter during the test.
    expect(await runtime.applyChangeSet({ version: 'limited-1', upserts: [listener({ requestsPerSecond: 0.001, burst: 1 }, 'l1'), table], removals: [] })).toEqual({ ok: true });
    const port = proxy.proxy.listeners.get('limited')!.port;
    try {
      expect((await h1Request(port, '/first')).status).toBe(200);
      expect((await h1Request(port, '/second')).status).toBe(429);
      // The listener's limit is lifted; its route table is the same resource as before.
      expect(await runtime.applyChangeSet({ version: 'limited-2', upserts: [listener(null, 'l2')], removals: [] })).toEqual({ ok: true });
      expect(proxy.proxy.listeners.get('limited')!.port).toBe(port);
      expect((await h1Request(port, '/after-lift')).status).toBe(200);
      expect((await h1Request(port, '/after-lift-again')).status).toBe(200);
    } finally {
      await runtime.applyChangeSet({ version: 'limited-gone', upserts: [], removals: [{ type: 'listener', name: 'limited' }, { type: 'route-table', name: 'limited' }] });
    }
  });

  it('refuses a listener it cannot bind, and applies nothing of that change', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const outcome = await proxy.proxy.runtime.applyChangeSet({
        version: 'clash',
        upserts: [
          { type: 'listener', name: 'clash', version: 'c1', body: { name: 'clash', address: '127.0.0.1', port, routeTable: 'test' } },
          { type: 'cluster', name: 'b', version: 'b-new', body: { name: 'b', connectTimeoutMs: 1234, endpoints: [{ address: '127.0.0.1', port: b.port }] } },
        ],
        removals: [],
      });
      expect(outcome).toEqual({ ok: false, reasons: [{ type: 'listener', name: 'clash', path: 'port', message: `cannot listen on 127.0.0.1:${port}: EADDRINUSE` }] });
      expect(proxy.proxy.runtime.config.clusters.find((c) => c.name === 'b')!.connectTimeoutMs).not.toBe(1234);
      expect(proxy.proxy.listeners.has('clash')).toBe(false);
    } finally {
      taken.close();
    }
  });
});

describe('config file reload', () => {
  let dir: string;
  let proxy: TestProxy;
  let watcher: ConfigFileWatcher;
  const file = (): string => join(dir, 'proxy.json');
  /** Written as editors and ConfigMaps do: a new file renamed over the old one. */
  const write = (doc: unknown): void => {
    writeFileSync(`${file()}.tmp`, typeof doc === 'string' ? doc : JSON.stringify(doc));
    renameSync(`${file()}.tmp`, file());
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-live-config-'));
    proxy = await startTestProxy({ routes: [{ name: 'all', backends: [{ cluster: 'a' }] }], clusters: [{ name: 'a', endpoints: [{ address: '127.0.0.1', port: a1.port }] }] });
    const doc = editDoc(0);
    write(doc);
    expect(await proxy.proxy.runtime.apply(testConfig(doc))).toEqual({ ok: true });
    watcher = new ConfigFileWatcher({ file: file(), load: loadConfigDocument, runtime: proxy.proxy.runtime, debounceMs: 20 });
    watcher.start();
  });
  afterAll(async () => {
    watcher.stop();
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a valid edit of the watched file, and keeps serving through it', async () => {
    write(editDoc(2));
    await until('the edit applied', () => proxy.proxy.runtime.version === 'edit-2');
    const r = await h1Request(proxy.port, '/x');
    expect(r.headers['x-edit']).toBe('2');
    expect(upstreamOf(r.body)).toBe('b');
  });

  it('logs, counts and shows an invalid edit, and the last good config keeps serving', async () => {
    const bad = editDoc(3) as { clusters: { endpoints: { port: number }[] }[] };
    bad.clusters[0]!.endpoints[0]!.port = 99999;
    write(bad);
    await until('the rejection', () => proxy.proxy.runtime.lastRejection?.version === 'edit-3');
    expect(proxy.proxy.runtime.lastRejection!.reasons).toEqual([{ type: 'file', name: file(), path: 'clusters[0].endpoints[0].port', message: 'must be <= 65535' }]);
    expect(proxy.proxy.runtime.version).toBe('edit-2');
    expect((await h1Request(proxy.port, '/x')).headers['x-edit']).toBe('2');
    // A file that is not even YAML is read again at the next event, the config untouched.
    write('{ not: [yaml');
    expect(await watcher.reload('SIGHUP')).toBe('unreadable');
    expect(proxy.proxy.runtime.version).toBe('edit-2');
  });

  it('reloads on demand (SIGHUP) through the same entry point', async () => {
    watcher.stop();
    writeFileSync(file(), JSON.stringify(editDoc(4)));
    expect(await watcher.reload('SIGHUP')).toBe('applied');
    expect(proxy.proxy.runtime.version).toBe('edit-4');
    expect((await h1Request(proxy.port, '/x')).headers['x-edit']).toBe('4');
    const admin = await h1Request(proxy.proxy.admin.port, '/ready');
    expect(admin.body.toString()).toBe('ready\nconfig edit-4\n');
    // What needs a restart is refused, never ignored.
    writeFileSync(file(), JSON.stringify({ ...editDoc(5), limits: { maxHeaderCount: 50 } }));
    expect(await watcher.reload('SIGHUP')).toBe('rejected');
    expect(proxy.proxy.runtime.lastRejection?.reasons).toEqual([{ type: 'settings', name: 'proxy', path: 'limits', message: expect.stringMatching(/needs a restart/) }]);
    expect(proxy.proxy.runtime.version).toBe('edit-4');
  });
});
