// Route matching (host, path, headers, query, method), weighted splits and every load-balancing algorithm, on real servers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFor, h1Request } from '../support/clients.ts';
import { startTestProxy, type TestProxy } from '../support/proxy-fixture.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';

async function countBy(n: number, send: (i: number) => Promise<string | undefined>, concurrency = 8): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const id = (await send(i)) ?? 'none';
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }),
  );
  return counts;
}

describe('route matching', () => {
  const ups: Record<string, Upstream> = {};
  let proxy: TestProxy;
  beforeAll(async () => {
    for (const id of ['exact', 'prefix', 'regex', 'header', 'query', 'method', 'hosta', 'fallback']) ups[id] = await startHttpUpstream('h1', { id });
    const cluster = (id: string) => ({ name: id, endpoints: [{ address: '127.0.0.1', port: ups[id]!.port }] });
    const config = {
      routes: [
        { name: 'exact', match: { path: { type: 'exact', value: '/exact' } }, backends: [{ cluster: 'exact' }] },
        { name: 'regex', match: { path: { type: 'regex', value: '/items/[0-9]+' } }, backends: [{ cluster: 'regex' }] },
        { name: 'header', match: { headers: [{ name: 'X-Version', type: 'exact', value: 'v2' }] }, backends: [{ cluster: 'header' }] },
        { name: 'query', match: { query: [{ name: 'debug', type: 'exact', value: 'true' }] }, backends: [{ cluster: 'query' }] },
        { name: 'method', match: { methods: ['DELETE'] }, backends: [{ cluster: 'method' }] },
        { name: 'prefix', match: { path: { type: 'prefix', value: '/api' } }, backends: [{ cluster: 'prefix' }] },
        { name: 'fallback', backends: [{ cluster: 'fallback' }] },
      ],
      clusters: Object.keys(ups).map(cluster),
    };
    proxy = await startTestProxy(config);
    // A second virtual host, selected by Host.
    const cfg = proxy.proxy.runtime.config;
    const listener = cfg.listeners[0]!;
    const applied = await proxy.proxy.runtime.apply({
      ...cfg,
      version: 'with-hosts',
      listeners: [
        {
          ...listener,
          virtualHosts: [
            { name: 'a', domains: ['a.example.com', '*.a.test'], routes: [{ ...listener.virtualHosts[0]!.routes.at(-1)!, name: 'hosta', backends: [{ cluster: 'hosta', weight: 1 }] }] },
            ...listener.virtualHosts,
          ],
        },
      ],
    });
    expect(applied.ok).toBe(true);
  });
  afterAll(async () => {
    await proxy.close();
    for (const u of Object.values(ups)) await u.close();
  });

  const cases: [string, string, Record<string, string>, string, string?][] = [
    ['exact path', '/exact', {}, 'exact'],
    ['exact path does not match a longer path', '/exact/more', {}, 'fallback'],
    ['prefix path, element-wise', '/api/v1/users', {}, 'prefix'],
    ['prefix does not match /apix', '/apix', {}, 'fallback'],
    ['regular expression (full match)', '/items/42', {}, 'regex'],
    ['regular expression must match the whole path', '/items/42/x', {}, 'fallback'],
    ['header', '/anything', { 'x-version': 'v2' }, 'header'],
    ['query parameter', '/anything?a=1&debug=true', {}, 'query'],
    ['method', '/anything', {}, 'method', 'DELETE'],
    ['host exact (case-insensitive, with port)', '/exact', { host: 'A.Example.com:8080' }, 'hosta'],
    ['host wildcard suffix', '/exact', { host: 'x.a.test' }, 'hosta'],
  ];
  for (const down of ['h1', 'h2'] as const) {
    it.each(cases)(`${down}: %s`, async (_n, path, headers, expected, method) => {
      const c = clientFor(down, proxy.port);
      try {
        const h = { ...headers };
        if (down === 'h2' && h.host) {
          h[':authority'] = h.host;
          delete h.host;
        }
        const r = await c.request(path, { headers: h, method: method ?? 'GET' });
        expect(r.headers['x-upstream']).toBe(expected);
      } finally {
        c.close();
      }
    });
  }
});

describe('weighted split', () => {
  it('sends 90/10 within 3 points over 2000 requests', async () => {
    const stable = await startHttpUpstream('h1', { id: 'stable' });
    const canary = await startHttpUpstream('h2', { id: 'canary' });
    const proxy = await startTestProxy({
      routes: [{ name: 'split', backends: [{ cluster: 'stable', weight: 90 }, { cluster: 'canary', weight: 10 }] }],
      clusters: [
        { name: 'stable', endpoints: [{ address: '127.0.0.1', port: stable.port }] },
        { name: 'canary', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: canary.port }] },
      ],
    });
    const c = clientFor('h2', proxy.port);
    try {
      const counts = await countBy(2000, async () => (await c.request('/')).headers['x-upstream'] as string, 16);
      const canaryShare = ((counts.get('canary') ?? 0) / 2000) * 100;
      expect(counts.get('none')).toBeUndefined();
      expect(Math.abs(canaryShare - 10)).toBeLessThanOrEqual(3);
    } finally {
      c.close();
      await proxy.close();
      await stable.close();
      await canary.close();
    }
  });
});

describe('load balancing', () => {
  let ups: Upstream[] = [];
  beforeAll(async () => {
    ups = [await startHttpUpstream('h1', { id: 'e0' }), await startHttpUpstream('h1', { id: 'e1' }), await startHttpUpstream('h1', { id: 'e2' })];
  });
  afterAll(async () => {
    for (const u of ups) await u.close();
  });
  const endpoints = () => ups.map((u) => ({ address: '127.0.0.1', port: u.port }));

  it('round robin spreads evenly', async () => {
    const proxy = await startTestProxy({ routes: [{ name: 'r', backends: [{ cluster: 'c' }] }], clusters: [{ name: 'c', loadBalancer: { policy: 'round-robin' }, endpoints: endpoints() }] });
    try {
      const counts = await countBy(300, async () => (await h1Request(proxy.port, '/')).headers['x-upstream'] as string, 1);
      expect([...counts.entries()].sort()).toEqual([['e0', 100], ['e1', 100], ['e2', 100]]);
    } finally {
      await proxy.close();
    }
  });

  it('ring hash keeps a key on one endpoint and spreads different keys', async () => {
    const proxy = await startTestProxy({
      routes: [{ name: 'r', backends: [{ cluster: 'c' }] }],
      clusters: [{ name: 'c', loadBalancer: { policy: 'ring-hash', hashOn: { type: 'header', name: 'x-user' } }, endpoints: endpoints() }],
    });
    try {
      const perUser = new Map<string, Set<string>>();
      for (let u = 0; u < 30; u++) {
        for (let k = 0; k < 3; k++) {
          const r = await h1Request(proxy.port, '/', { headers: { 'x-user': `user-${u}` } });
          const set = perUser.get(`user-${u}`) ?? new Set();
          set.add(r.headers['x-upstream'] as string);
          perUser.set(`user-${u}`, set);
        }
      }
      for (const s of perUser.values()) expect(s.size).toBe(1);
      const used = new Set([...perUser.values()].flatMap((s) => [...s]));
      expect(used.size).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it('ring hash by cookie is sticky', async () => {
    const proxy = await startTestProxy({
      routes: [{ name: 'r', backends: [{ cluster: 'c' }] }],
      clusters: [{ name: 'c', loadBalancer: { policy: 'ring-hash', hashOn: { type: 'cookie', name: 'session' } }, endpoints: endpoints() }],
    });
    try {
      const seen = new Set<string>();
      for (let k = 0; k < 10; k++) seen.add((await h1Request(proxy.port, '/', { headers: { cookie: 'a=1; session=abc' } })).headers['x-upstream'] as string);
      expect(seen.size).toBe(1);
      const spread = new Set<string>();
      for (let k = 0; k < 30; k++) spread.add((await h1Request(proxy.port, '/', { headers: { cookie: `session=s${k}` } })).headers['x-upstream'] as string);
      expect(spread.size).toBeGreaterThan(1);
    } finally {
      await proxy.close();
    }
  });

  it('least request avoids the endpoint with requests in flight', async () => {
    const slow = await startHttpUpstream('h1', { id: 'slow', delayMs: 400 });
    const fast = await startHttpUpstream('h1', { id: 'fast' });
    const proxy = await startTestProxy({
      routes: [{ name: 'r', backends: [{ cluster: 'c' }] }],
      clusters: [{ name: 'c', loadBalancer: { policy: 'least-request' }, endpoints: [{ address: '127.0.0.1', port: slow.port }, { address: '127.0.0.1', port: fast.port }] }],
    });
    try {
      const counts = await countBy(100, async () => (await h1Request(proxy.port, '/')).headers['x-upstream'] as string, 4);
      // With 4 requests always in flight, at most a handful can land on the slow endpoint before it is seen busy.
      expect(counts.get('fast') ?? 0).toBeGreaterThan(80);
    } finally {
      await proxy.close();
      await slow.close();
      await fast.close();
    }
  });

  it('peak EWMA (default) sends less traffic to a slow endpoint', async () => {
    const slow = await startHttpUpstream('h2', { id: 'slow', delayMs: 60 });
    const fast = await startHttpUpstream('h2', { id: 'fast' });
    const proxy = await startTestProxy({
      routes: [{ name: 'r', backends: [{ cluster: 'c' }] }],
      clusters: [{ name: 'c', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: slow.port }, { address: '127.0.0.1', port: fast.port }] }],
    });
    const c = clientFor('h2', proxy.port);
    try {
      const counts = await countBy(300, async () => (await c.request('/')).headers['x-upstream'] as string, 4);
      const slowShare = (counts.get('slow') ?? 0) / 300;
      expect(slowShare).toBeLessThan(0.2);
      expect((counts.get('slow') ?? 0) + (counts.get('fast') ?? 0)).toBe(300);
    } finally {
      c.close();
      await proxy.close();
      await slow.close();
      await fast.close();
    }
  });
});
