// Config discovery over real gRPC on loopback: subscribe, push, ACK/NACK, debounce, only affected proxies, delta on
// reconnect, the last config kept while the control plane is away, pass-through before it was ever reached, cuts.
import * as grpc from '@grpc/grpc-js';
import { connect } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigDiscovery, type Push } from '../../api/proto/config-discovery.ts';
import { ok } from '../../api/result.ts';
import { Registry } from 'prom-client';
import { ConfigServer, type ConfigServerOptions } from '../../control-plane/serving/config-server.ts';
import { ServingMetrics } from '../../control-plane/serving/serving-metrics.ts';
import { makeSnapshot, type ResourceBody } from '../../control-plane/serving/proxy-snapshot.ts';
import type { ProxySnapshot, SnapshotSource } from '../../control-plane/serving/snapshot-source.ts';
import { ControlPlaneClient, type ApplyChangeSet, type ChangeSet } from '../../proxy/control/control-plane-client.ts';

/** Resources per proxy id (missing: the default set). */
class TableSource implements SnapshotSource {
  byProxy = new Map<string, ResourceBody[]>();
  defaults: ResourceBody[] = [];
  calls = 0;
  snapshotFor(proxy: { id: string }) {
    this.calls++;
    return ok<ProxySnapshot>(makeSnapshot(this.byProxy.get(proxy.id) ?? this.defaults));
  }
}

async function until<T>(what: string, f: () => T | undefined | false, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(source: SnapshotSource, extra: Partial<ConfigServerOptions> = {}, port = 0) {
  const pushes: { proxy: string; push: Push }[] = [];
  const cuts: { proxy: string; code: string }[] = [];
  const server = new ConfigServer({
    source,
    debounceQuietMs: 20,
    debounceMaxMs: 200,
    ...extra,
    events: {
      ...extra.events,
      onPush: (proxy, push) => (pushes.push({ proxy, push }), extra.events?.onPush?.(proxy, push)),
      onCut: (proxy, code) => (cuts.push({ proxy, code }), extra.events?.onCut?.(proxy, code)),
    },
  });
  const bound = await server.listen('127.0.0.1', port);
  cleanups.push(() => server.close());
  return { server, port: bound, pushes, cuts };
}

/** A proxy whose apply entry point holds resources in a map (applied whole or refused whole). */
function startProxy(port: number, pod: string, reject?: (c: ChangeSet) => string | null, greetingTimeoutMs?: number) {
  const held = new Map<string, unknown>();
  const applied: ChangeSet[] = [];
  const apply: ApplyChangeSet = (c) => {
    const why = reject?.(c) ?? null;
    if (why) return { ok: false, reasons: [{ type: c.upserts[0]?.type ?? '', name: c.upserts[0]?.name ?? '', path: '/x', message: why }] };
    for (const r of c.removals) held.delete(`${r.type}/${r.name}`);
    for (const r of c.upserts) held.set(`${r.type}/${r.name}`, r.body);
    applied.push(c);
    return { ok: true };
  };
  const client = new ControlPlaneClient({
    address: `127.0.0.1:${port}`,
    hello: { proxyId: '', podName: pod, podNamespace: 'ns', podIp: '10.0.0.1', serviceAccount: 'sa', token: '', mode: 'sidecar', proxyVersion: 'test' },
    apply,
    backoff: { baseMs: 20, capMs: 100 },
    ...(greetingTimeoutMs === undefined ? {} : { greetingTimeoutMs }),
  });
  client.start();
  cleanups.push(() => client.stop());
  return { client, held, applied };
}

const res = (name: string, v: unknown): ResourceBody => ({ type: 'cluster', name, body: { v } });

describe('config discovery over gRPC', () => {
  it('pushes the proxy its resources, and the ACK makes it SYNCED at that version', async () => {
    const source = new TableSource();
    source.defaults = [res('a', 1), res('b', 1)];
    const { server, port } = await startServer(source);
    const p = startProxy(port, 'web-1');
    await until('synced', () => p.client.status.state === 'synced');
    expect([...p.held.keys()].sort()).toEqual(['cluster/a', 'cluster/b']);
    const view = await until('server sees SYNCED', () => server.proxies().find((v) => v.status === 'SYNCED'));
    expect(view.id).toBe('web-1.ns');
    expect(view.ackedVersion).toBe(makeSnapshot(source.defaults).version);
    expect(p.client.status.version).toBe(view.ackedVersion);
  });

  it('debounces a burst into one push carrying only the changed resource, to the affected proxy only', async () => {
    const source = new TableSource();
    source.defaults = [res('a', 1), res('b', 1)];
    const { server, port, pushes } = await startServer(source);
    const p1 = startProxy(port, 'web-1');
    const p2 = startProxy(port, 'web-2');
    await until('both synced', () => server.proxies().filter((v) => v.status === 'SYNCED').length === 2);
    pushes.length = 0;
    source.byProxy.set('web-1.ns', [res('a', 1), res('b', 2)]);
    for (let i = 0; i < 5; i++) server.changed(['web-1.ns']);
    source.byProxy.set('web-1.ns', [res('a', 1), res('b', 3)]);
    server.changed(['web-1.ns']);
    await until('web-1 has b=3', () => (p1.held.get('cluster/b') as { v: number } | undefined)?.v === 3);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.proxy).toBe('web-1.ns');
    expect(pushes[0]!.push.resources.map((r) => r.name)).toEqual(['b']);
    expect(p2.applied).toHaveLength(1);
  });

  it('a NACK is reported with its reasons, the proxy keeps its last config, and a fix syncs it', async () => {
    const source = new TableSource();
    source.defaults = [res('a', 1)];
    const { server, port, pushes } = await startServer(source);
    const p = startProxy(port, 'web-1', (c) => (c.upserts.some((r) => (r.body as { v: unknown }).v === 'bad') ? 'v must be a number' : null));
    await until('synced', () => p.client.status.state === 'synced');
    const good = p.client.status.version;
    source.defaults = [res('a', 'bad')];
    server.changed('all');
    const view = await until('NACKED', () => server.proxies().find((v) => v.status === 'NACKED'));
    expect(view.nackReasons).toEqual([{ type: 'cluster', name: 'a', path: '/x', message: 'v must be a number' }]);
    expect(view.ackedVersion).toBe(good);
    expect(p.held.get('cluster/a')).toEqual({ v: 1 });
    expect(p.client.status.lastRejection?.reasons[0]?.message).toBe('v must be a number');
    // The same rejected set is not sent again on an unrelated flush.
    const before = pushes.length;
    server.changed('all');
    await until('flush ran', () => source.calls >= 3);
    expect(pushes.length).toBe(before);
    source.defaults = [res('a', 2)];
    server.changed('all');
    await until('SYNCED again', () => server.proxies().find((v) => v.status === 'SYNCED' && v.ackedVersion !== good));
    expect(p.held.get('cluster/a')).toEqual({ v: 2 });
  });

  it('counts pushes, ACKs, NACKs by rejected resource type and answer latency in the control plane metrics', async () => {
    const source = new TableSource();
    source.defaults = [res('a', 1)];
    const registry = new Registry();
    let connected = (): number => 0;
    const metrics = new ServingMetrics(registry, () => connected());
    const { server, port } = await startServer(source, { events: metrics.events() });
    connected = () => server.connectedCount;
    const p = startProxy(port, 'web-1', (c) => (c.upserts.some((r) => (r.body as { v: unknown }).v === 'bad') ? 'v must be a number' : null));
    await until('synced', () => p.client.status.state === 'synced');
    source.defaults = [res('a', 'bad')];
    server.changed('all');
    await until('NACKED', () => server.proxies().find((v) => v.status === 'NACKED'));
    const text = await registry.metrics();
    expect(text).toContain('skein_cp_proxies_connected 1');
    expect(text).toContain('skein_cp_pushes_total 2');
    expect(text).toContain('skein_cp_acks_total 1');
    expect(text).toContain('skein_cp_nacks_total{reason="cluster"} 1');
    expect(text).toContain('skein_cp_nacks_total{reason="listener"} 0');
    expect(text).toContain('skein_cp_push_duration_seconds_count{result="ack"} 1');
    expect(text).toContain('skein_cp_push_duration_seconds_count{result="nack"} 1');
  });

  it('keeps the last config while the control plane is away, and a reconnect receives only what changed', async () => {
    const source = new TableSource();
    source.defaults = [res('a', 1), res('b', 1), res('c', 1)];
    const first = await startServer(source);
    const p = startProxy(first.port, 'web-1');
    await until('synced', () => p.client.status.state === 'synced');
    await first.server.close();
    await until('away', () => p.client.status.state === 'away');
    expect(p.client.readinessDetail()).toMatch(/away: serving last config/);
    expect(p.held.size).toBe(3);
    source.defaults = [res('a', 1), res('b', 2)];
    const second = await startServer(source, {}, first.port);
    await until('synced again', () => p.client.status.state === 'synced' && p.held.size === 2);
    expect(second.pushes).toHaveLength(1);
    expect(second.pushes[0]!.push.resources.map((r) => r.name)).toEqual(['b']);
    expect(second.pushes[0]!.push.removed).toEqual([{ type: 'cluster', name: 'c' }]);
  });

  it('a reconnect to a control plane with nothing new is answered anyway, and the proxy is synced again', async () => {
    const source = new TableSource();
    source.defaults = [res('a', 1)];
    const first = await startServer(source);
    const p = startProxy(first.port, 'web-1');
    await until('synced', () => p.client.status.state === 'synced');
    const version = p.client.status.version;
    await first.server.close();
    await until('away', () => p.client.status.state === 'away');
    const second = await startServer(source, {}, first.port);
    await until('synced again', () => p.client.status.state === 'synced');
    // The greeting carries nothing to apply: the proxy acknowledges it without touching its config.
    expect(second.pushes.map((x) => [x.push.resources.length, x.push.removed.length])).toEqual([[0, 0]]);
    expect(p.applied).toHaveLength(1);
    expect(p.client.status.version).toBe(version);
    await until('SYNCED on the control plane', () => second.server.proxies().find((v) => v.podName === 'web-1' && v.status === 'SYNCED'));
  });

  it('gives up on a control plane that never answers its Hello, and dials again until one does', async () => {
    const { service } = loadConfigDiscovery();
    const silent = new grpc.Server();
    let subscribed = 0;
    silent.addService(service, {
      subscribe: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        subscribed++;
        call.on('data', () => {}); // reads the Hello, answers nothing
        call.on('error', () => {});
      },
    });
    const port = await new Promise<number>((r, j) => silent.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, bound) => (e ? j(e) : r(bound))));
    cleanups.push(() => silent.forceShutdown());
    const p = startProxy(port, 'web-1', undefined, 100);
    await until('two unanswered attempts', () => subscribed >= 2 && p.client.status.reconnects >= 2);
    expect(p.client.status.state).toBe('pass-through');
    expect(p.client.status.lastError).toMatch(/no answer to the Hello within 100 ms/);
    silent.forceShutdown();
    const source = new TableSource();
    source.defaults = [res('a', 1)];
    await startServer(source, {}, port);
    await until('synced with the control plane that answers', () => p.client.status.state === 'synced' && p.held.size === 1);
  });

  it('a proxy that starts while the control plane is away serves pass-through and says so', async () => {
    const { port } = await startServer(new TableSource());
    const probe = new grpc.Server();
    cleanups.push(() => probe.forceShutdown());
    // a port that was bound and released: nothing listens there now
    const dead = await new Promise<number>((r) => probe.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (_e, p) => r(p)));
    probe.forceShutdown();
    expect(dead).not.toBe(port);
    const p = startProxy(dead, 'web-1');
    await until('a failed attempt', () => p.client.status.reconnects >= 2);
    expect(p.client.status.state).toBe('pass-through');
    expect(p.client.readinessDetail()).toMatch(/not reached since start: serving pass-through/);
  });

  it('refuses a stream whose first message is not a valid Hello', async () => {
    const { port } = await startServer(new TableSource());
    const { Client } = loadConfigDiscovery();
    const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    cleanups.push(() => c.close());
    const status = (first: unknown) =>
      new Promise<grpc.ServiceError>((resolve) => {
        const call = (c as unknown as { subscribe(): grpc.ClientDuplexStream<unknown, unknown> }).subscribe();
        call.on('data', () => {});
        call.on('error', resolve);
        call.write(first);
      });
    const noHello = await status({ ack: { nonce: 'x' } });
    expect(noHello.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(noHello.details).toMatch(/SKEIN_ERR_CP_NO_HELLO/);
    const bad = await status({ hello: { podName: 'Bad_Name', podNamespace: '' } });
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/pod_name must be a Kubernetes name; pod_namespace/);
  });

  it('cuts a stream that never answers a push, without holding up the other proxies', async () => {
    const source = new TableSource();
    source.defaults = [res('a', 1)];
    const { server, port, cuts } = await startServer(source, { ackTimeoutMs: 150 });
    const { Client } = loadConfigDiscovery();
    const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    cleanups.push(() => c.close());
    const mute = (c as unknown as { subscribe(): grpc.ClientDuplexStream<unknown, unknown> }).subscribe();
    const ended = new Promise<grpc.ServiceError>((r) => mute.on('error', r));
    mute.on('data', () => {});
    mute.write({ hello: { podName: 'mute', podNamespace: 'ns' } });
    const p = startProxy(port, 'web-1');
    await until('web-1 synced', () => p.client.status.state === 'synced');
    const e = await ended;
    expect(e.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(cuts).toEqual([{ proxy: 'mute.ns', code: 'SKEIN_ERR_CP_ACK_TIMEOUT' }]);
    expect(server.proxies().map((v) => v.id)).toEqual(['web-1.ns']);
  });

  it('past the write budget pushes wait in line, and go once the bytes ahead of them are taken', async () => {
    const source = new TableSource();
    // More than the HTTP/2 windows: the first push is taken only as fast as its reader lets it.
    source.byProxy.set('slow.ns', [res('big', 'x'.repeat(8 << 20))]);
    source.defaults = [res('small', 1)];
    const { server, port, pushes } = await startServer(source, { ackTimeoutMs: 60_000, maxBytesInFlight: 1 << 20 });
    // A raw HTTP/2 stream that does not read: Node stops granting flow-control credit once its buffer is full, so the push
    // stays in the server's HTTP/2 layer, however fast the machine (a grpc-js client would read the message anyway).
    const method = loadConfigDiscovery().service.Subscribe!;
    const session = connect(`http://127.0.0.1:${port}`);
    cleanups.push(() => session.destroy());
    const slow = session.request({ ':method': 'POST', ':path': method.path, 'content-type': 'application/grpc', te: 'trailers' });
    slow.on('error', () => {});
    slow.pause();
    const hello = method.requestSerialize({ hello: { podName: 'slow', podNamespace: 'ns' } });
    const frame = Buffer.alloc(5 + hello.length);
    frame.writeUInt32BE(hello.length, 1);
    hello.copy(frame, 5);
    slow.write(frame);
    await until('the slow stream pushed', () => pushes.length === 1);
    const p = startProxy(port, 'web-1');
    // A Hello is answered in the callback that reads it: once the server lists web-1, its push is either out or in line.
    await until('web-1 heard', () => server.proxies().some((v) => v.id === 'web-1.ns'));
    expect(pushes.map((x) => x.proxy)).toEqual(['slow.ns']);
    expect(server.proxies().find((v) => v.id === 'web-1.ns')!.status).toBe('STALE');
    // The slow proxy reads: its bytes are taken, and web-1's push goes (before anyone answered or was cut).
    slow.on('data', () => {});
    slow.resume();
    await until('web-1 synced', () => p.client.status.state === 'synced', 10_000);
    expect(pushes.map((x) => x.proxy)).toEqual(['slow.ns', 'web-1.ns']);
  });

  it('a stream that reads its push but has not answered yet holds no share of the write budget', async () => {
    const source = new TableSource();
    source.defaults = [res('big', 'x'.repeat(600 << 10))];
    // Two pushes do not fit in the budget at once; the ACK timeout is far beyond the wait below.
    const { port, pushes, cuts } = await startServer(source, { ackTimeoutMs: 60_000, maxBytesInFlight: 1 << 20 });
    const { Client } = loadConfigDiscovery();
    const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20 });
    cleanups.push(() => c.close());
    const mute = (c as unknown as { subscribe(): grpc.ClientDuplexStream<unknown, unknown> }).subscribe();
    mute.on('error', () => {});
    const got = new Promise<void>((r) => mute.on('data', () => r()));
    mute.write({ hello: { podName: 'mute', podNamespace: 'ns' } });
    await got;
    const p = startProxy(port, 'web-1');
    await until('web-1 synced while mute still owes its answer', () => p.client.status.state === 'synced');
    expect(pushes.map((x) => x.proxy)).toEqual(['mute.ns', 'web-1.ns']);
    expect(cuts).toEqual([]);
    mute.cancel();
  });

  it('cuts a stream that stops reading', async () => {
    const source = new TableSource();
    // several MiB: more than the HTTP/2 windows, so the push sits unread
    source.defaults = [res('big', 'x'.repeat(8 << 20))];
    const { server, port, cuts } = await startServer(source, { ackTimeoutMs: 200 });
    const { Client } = loadConfigDiscovery();
    const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20 });
    cleanups.push(() => c.close());
    const stuck = (c as unknown as { subscribe(): grpc.ClientDuplexStream<unknown, unknown> }).subscribe();
    stuck.on('error', () => {});
    stuck.pause();
    stuck.write({ hello: { podName: 'stuck', podNamespace: 'ns' } });
    await until('cut', () => cuts.length > 0);
    expect(cuts).toEqual([{ proxy: 'stuck.ns', code: 'SKEIN_ERR_CP_ACK_TIMEOUT' }]);
    expect(server.proxies()).toEqual([]);
    stuck.cancel();
  });
});
