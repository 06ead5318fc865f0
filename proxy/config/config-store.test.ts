// The config store's validation: every body problem and every broken reference at once, with type, name and path; a
// refused change leaves the set untouched; resolved bodies (what the control plane sends) are valid input.
import { describe, expect, it } from 'vitest';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { ProxyConfig } from '../../api/config/proxy-config.ts';
import type { ChangeSet, ResourceUpdate } from './change-set.ts';
import { configResources } from './config-resources-of.ts';
import { ConfigStore } from './config-store.ts';
import { routeTableHosts } from './route-table-hosts.ts';

function parsed(doc: unknown): ProxyConfig {
  const r = parseProxyConfig(doc);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const base = parsed({
  version: 'v1',
  admin: { port: 0 },
  listeners: [{ name: 'out', address: '127.0.0.1', port: 0, virtualHosts: [{ name: 'all', routes: [{ name: 'all', backends: [{ cluster: 'app' }] }] }] }],
  clusters: [{ name: 'app', endpoints: [{ address: '127.0.0.1', port: 8080 }] }],
});

function storeWith(config: ProxyConfig = base): ConfigStore {
  const s = new ConfigStore();
  const staged = s.stage({ version: config.version, upserts: configResources(config), removals: [] });
  if (!staged.ok) throw new Error(JSON.stringify(staged.error));
  s.commit(staged.value);
  return s;
}

const up = (type: string, name: string, body: unknown, version = `${type}-${name}-${JSON.stringify(body).length}`): ResourceUpdate => ({ type, name, version, body });
const change = (upserts: ResourceUpdate[], removals: { type: string; name: string }[] = []): ChangeSet => ({ version: 'next', upserts, removals });

describe('ConfigStore', () => {
  it('takes a whole config document as resources: settings, each listener with its route table, each cluster', () => {
    const s = storeWith();
    expect([...s.resources.keys()].sort()).toEqual(['cluster/app', 'listener/out', 'route-table/out', 'settings/proxy']);
    expect(s.version).toBe('v1');
  });

  it('refuses a change with every problem of every body at once, and changes nothing', () => {
    const s = storeWith();
    const before = s.resources;
    const r = s.stage(
      change([
        up('cluster', 'app', { name: 'app', endpoints: [{ address: '127.0.0.1', port: 70000 }], loadBalancer: { policy: 'fastest' } }),
        up('route-table', 'out', { name: 'out', virtualHosts: [{ name: 'all', routes: [{ name: 'r', match: { path: { type: 'regex', value: '(' } }, backends: [{ cluster: 'app' }] }] }] }),
      ]),
    );
    expect(r.ok).toBe(false);
    const reasons = r.ok ? [] : r.error;
    expect(reasons).toContainEqual({ type: 'cluster', name: 'app', path: 'endpoints[0].port', message: 'must be <= 65535' });
    expect(reasons.find((x) => x.type === 'cluster' && x.path === 'loadBalancer.policy')?.message).toMatch(/must be one of/);
    expect(reasons.find((x) => x.type === 'route-table')).toMatchObject({ name: 'out', path: 'virtualHosts[0].routes[0].match.path.value' });
    expect(s.resources).toBe(before);
  });

  it('checks every reference over the whole next set: routes, listeners, endpoint sets and VIPs', () => {
    const s = storeWith();
    const r = s.stage(
      change(
        [
          up('route-table', 'out', { name: 'out', virtualHosts: [{ name: 'all', routes: [{ name: 'r', backends: [{ cluster: 'gone' }], mirrors: [{ cluster: 'shadow' }] }] }] }),
          up('listener', 'in', { name: 'in', address: '127.0.0.1', port: 0, routeTable: 'nope', tcpCluster: 'tcp' }),
          up('endpoint-set', 'ghost', { cluster: 'ghost', endpoints: [] }),
          up('outbound-vips', 'out', { routeTable: 'out', vips: [{ address: '10.96.0.1', port: 80, virtualHost: 'missing' }] }),
        ],
        [{ type: 'cluster', name: 'app' }],
      ),
    );
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.error).toEqual(
      expect.arrayContaining([
        { type: 'listener', name: 'in', path: 'routeTable', message: 'unknown route table "nope"' },
        { type: 'listener', name: 'in', path: 'tcpCluster', message: 'unknown cluster "tcp"' },
        { type: 'route-table', name: 'out', path: 'virtualHosts[0].routes[0].backends[0].cluster', message: 'unknown cluster "gone"' },
        { type: 'route-table', name: 'out', path: 'virtualHosts[0].routes[0].mirrors[0].cluster', message: 'unknown cluster "shadow"' },
        { type: 'endpoint-set', name: 'ghost', path: '', message: 'unknown cluster "ghost"' },
        { type: 'outbound-vips', name: 'out', path: 'vips[0].virtualHost', message: 'route table "out" has no virtual host "missing"' },
      ]),
    );
  });

  it('refuses what needs a restart (settings) and unknown types, names them', () => {
    const s = storeWith();
    const settings = { ...s.settings!, limits: { ...s.settings!.limits, maxHeaderCount: 50 } };
    const r = s.stage(change([up('settings', 'proxy', settings), up('gateway', 'x', {})]));
    expect(r.ok ? [] : r.error).toEqual([
      { type: 'gateway', name: 'x', path: '', message: expect.stringMatching(/^unknown resource type/) },
    ]);
    const r2 = s.stage(change([up('settings', 'proxy', settings)]));
    expect(r2.ok ? [] : r2.error).toEqual([{ type: 'settings', name: 'proxy', path: 'limits', message: expect.stringMatching(/needs a restart/) }]);
    const r3 = s.stage(change([], [{ type: 'settings', name: 'proxy' }]));
    expect(r3.ok ? [] : r3.error.map((x) => x.message)).toContain('the settings cannot be removed');
  });

  it('accepts an endpoint set for a static cluster and a VIP table naming a virtual host of its route table', () => {
    const s = storeWith();
    const r = s.stage(
      change([
        up('endpoint-set', 'app', { cluster: 'app', endpoints: [{ address: '10.0.0.1', port: 80 }, { address: 'fd00::1', port: 80, weight: 3 }] }),
        up('outbound-vips', 'out', { routeTable: 'out', vips: [{ address: '10.96.0.1', port: 80, virtualHost: 'all' }] }),
      ]),
    );
    expect(r.ok).toBe(true);
    if (r.ok) expect([...r.value.changed].sort()).toEqual(['endpoint-set/app', 'outbound-vips/out']);
  });

  it('skips an upsert whose version it already holds (nothing to validate or rebuild)', () => {
    const s = storeWith();
    const r = s.stage({ version: 'again', upserts: configResources(base), removals: [] });
    expect(r.ok && r.value.changed.size).toBe(0);
  });

  it('takes resolved bodies (nulls for absent members, a fault abort status as a number) as they are sent', () => {
    const full = parsed({
      listeners: [
        {
          name: 'out',
          port: 0,
          rateLimit: { requestsPerSecond: 5 },
          virtualHosts: [
            {
              name: 'all',
              routes: [
                {
                  name: 'r',
                  backends: [{ cluster: 'app' }],
                  retries: { attempts: 2, retryOn: ['5xx', 'unavailable'] },
                  fault: { abort: { grpcStatus: 'UNAVAILABLE', percent: 10 }, header: 'x-chaos' },
                  mirrors: [{ cluster: 'app', percent: 5 }],
                  timeoutMs: 3000,
                },
              ],
            },
          ],
        },
      ],
      clusters: [{ name: 'app', circuitBreaker: { maxRequests: 10 }, outlierDetection: { consecutive5xxErrors: 3 }, endpoints: [{ address: '127.0.0.1', port: 1 }] }],
    });
    const s = new ConfigStore();
    // Through JSON, as the wire carries it.
    const upserts = configResources(full).map((u) => ({ ...u, body: JSON.parse(JSON.stringify(u.body)) as unknown }));
    const r = s.stage({ version: 'x', upserts, removals: [] });
    expect(r.ok ? [] : r.error).toEqual([]);
    if (!r.ok) return;
    const table = r.value.resources.get('route-table/out');
    expect(table?.type === 'route-table' && table.value.virtualHosts).toEqual(full.listeners[0]!.virtualHosts);
    const cluster = r.value.resources.get('cluster/app');
    expect(cluster?.value).toEqual(full.clusters[0]);
  });

  it('takes a virtual host as a resource of its own: validated alone, joined to its route table after the table\'s own hosts', () => {
    const s = storeWith();
    const vh = (name: string, domains: string[], cluster = 'app') => up('virtual-host', name, { routeTable: 'out', name, domains, routes: [{ name: 'r', backends: [{ cluster }] }] });
    const r = s.stage(change([vh('svc-b', ['b.test']), vh('svc-a', ['a.test']), up('outbound-vips', 'svc-a', { routeTable: 'out', vips: [{ address: '10.96.0.7', port: 80, virtualHost: 'svc-a' }] })]));
    expect(r.ok ? [] : r.error).toEqual([]);
    if (!r.ok) return;
    expect([...r.value.changed].sort()).toEqual(['outbound-vips/svc-a', 'virtual-host/svc-a', 'virtual-host/svc-b']);
    expect(routeTableHosts(r.value.resources).get('out')!.map((h) => [h.name, h.domains])).toEqual([['all', ['*']], ['svc-a', ['a.test']], ['svc-b', ['b.test']]]);
    s.commit(r.value);
    // Its body problems and broken references, each with its path in the virtual host's own body.
    const bad = s.stage(
      change([
        up('virtual-host', 'svc-a', { routeTable: 'out', name: 'svc-a', domains: ['a.test'], routes: [{ name: 'r', match: { path: { type: 'regex', value: '(' } }, backends: [{ cluster: 'app' }] }] }),
        up('virtual-host', 'svc-c', { routeTable: 'nowhere', domains: ['c.test'], routes: [{ name: 'r', backends: [{ cluster: 'gone' }] }] }),
        up('virtual-host', 'svc-d', { name: 'other', domains: ['d.test'], routes: [] }),
        up('virtual-host', 'all', { routeTable: 'out', domains: ['e.test'], routes: [] }),
      ]),
    );
    const reasons = bad.ok ? [] : bad.error;
    expect(reasons).toContainEqual({ type: 'virtual-host', name: 'svc-a', path: 'routes[0].match.path.value', message: expect.stringMatching(/regular expression/) });
    expect(reasons).toContainEqual({ type: 'virtual-host', name: 'svc-d', path: 'routeTable', message: 'is required (a route table name)' });
    expect(reasons).toContainEqual({ type: 'virtual-host', name: 'svc-d', path: 'name', message: 'must equal the resource name "svc-d"' });
    // References are checked once every body is valid: a second change with only valid bodies.
    const refs = s.stage(change([up('virtual-host', 'svc-c', { routeTable: 'nowhere', domains: ['c.test'], routes: [{ name: 'r', backends: [{ cluster: 'gone' }] }] }), up('virtual-host', 'all', { routeTable: 'out', domains: ['e.test'], routes: [] })]));
    expect(refs.ok ? [] : refs.error).toEqual([
      { type: 'virtual-host', name: 'svc-c', path: 'routeTable', message: 'unknown route table "nowhere"' },
      { type: 'virtual-host', name: 'svc-c', path: 'routes[0].backends[0].cluster', message: 'unknown cluster "gone"' },
      { type: 'virtual-host', name: 'all', path: 'name', message: 'route table "out" has a virtual host of this name already' },
    ]);
    // A VIP may not name a virtual host that goes away.
    const gone = s.stage(change([], [{ type: 'virtual-host', name: 'svc-a' }]));
    expect(gone.ok ? [] : gone.error).toEqual([{ type: 'outbound-vips', name: 'svc-a', path: 'vips[0].virtualHost', message: 'route table "out" has no virtual host "svc-a"' }]);
  });

  it('keeps secrets and refuses one that is not PEM', () => {
    const s = storeWith();
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    expect(s.stage(change([up('secret', 'workload', { certificateChain: pem })])).ok).toBe(true);
    const r = s.stage(change([up('secret', 'workload', { privateKey: 'hunter2' })]));
    expect(r.ok ? [] : r.error).toEqual([{ type: 'secret', name: 'workload', path: 'privateKey', message: expect.stringMatching(/PEM/) }]);
  });
});
