// e2e: mesh identity on the local cluster, installed from manifests/: two injected workloads talk over mTLS (the server
// sidecar counts the request as mTLS from the caller's SPIFFE id, and the app sees it in x-skein-client-id), a spoofed
// x-skein-client-id from a plain-text client never reaches the app, a strict MeshTLSPolicy refuses plain text (and closes
// a plain-text connection kept alive from before) and permissive takes it again, and AuthorizationPolicies allow and deny over HTTP and gRPC (403 / PERMISSION_DENIED);
// opaque TCP from the caller pod to echo's Service goes over mTLS and passes under Strict.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHORIZATION_POLICY_GROUP, AUTHORIZATION_POLICY_PLURAL, AUTHORIZATION_POLICY_VERSION } from '../../api/crd/authorization-policy.ts';
import { MESH_TLS_POLICY_PLURAL } from '../../api/crd/mesh-tls-policy.ts';
import { REPO_ROOT } from '../../local-cluster/images/skein-images.ts';
import { CALLER_ID, ECHO_TCP_PORT, MESH_IDENTITY_NS as NS, startMeshIdentityCluster, type MeshIdentityCluster } from '../support/mesh-identity-cluster.ts';
import { kubectlIn } from './kubectl.ts';
import { waitFor } from './wait-for.ts';

describe('mesh identity on the local cluster', () => {
  let mesh: MeshIdentityCluster;
  let EchoClient: grpc.ServiceClientConstructor;
  const viaCaller = (path: string) => mesh.viaCaller(path);
  const plainToEcho = (path: string, headers: Record<string, string> = {}) => mesh.plainToEcho(path, headers);
  const sidecarMetrics = (app: string) => mesh.sidecarMetrics(app);

  /** A plain-text gRPC call from the host to grpc-echo's pod: OK, or the status it failed with. */
  async function sayPlain(): Promise<string> {
    const client = new EchoClient(`${mesh.ips.get('grpc-echo')}:9090`, grpc.credentials.createInsecure());
    try {
      return await new Promise<string>((resolve) =>
        (client as unknown as { Say(r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void): void }).Say(
          { message: 'hi' },
          new grpc.Metadata(),
          { deadline: Date.now() + 10_000 },
          (e) => resolve(e ? grpc.status[e.code] ?? String(e.code) : 'OK'),
        ),
      );
    } finally {
      client.close();
    }
  }

  const policy = (plural: string, kind: string) => ({
    apply: (name: string, spec: Record<string, unknown>) =>
      mesh.custom.createNamespacedCustomObject({ group: AUTHORIZATION_POLICY_GROUP, version: AUTHORIZATION_POLICY_VERSION, namespace: NS, plural, body: { apiVersion: 'skein.dev/v1alpha1', kind, metadata: { name, namespace: NS }, spec } }),
    remove: (name: string) => mesh.custom.deleteNamespacedCustomObject({ group: AUTHORIZATION_POLICY_GROUP, version: AUTHORIZATION_POLICY_VERSION, namespace: NS, plural, name }),
  });
  const authz = () => policy(AUTHORIZATION_POLICY_PLURAL, 'AuthorizationPolicy');
  const mtls = () => policy(MESH_TLS_POLICY_PLURAL, 'MeshTLSPolicy');

  beforeAll(async () => {
    const def = protoLoader.loadSync(join(REPO_ROOT, 'examples/grpc-echo/echo.proto'), { keepCase: true });
    EchoClient = (grpc.loadPackageDefinition(def) as unknown as { skein: { examples: { Echo: grpc.ServiceClientConstructor } } }).skein.examples.Echo;
    mesh = await startMeshIdentityCluster();
  }, 600_000);

  afterAll(async () => {
    await mesh?.stop();
  });

  it('caller -> echo goes over mTLS: echo\'s sidecar counts it as mTLS from the caller\'s identity, and echo sees x-skein-client-id', async () => {
    const r = await waitFor('echo to see the caller\'s identity', async () => {
      const x = await viaCaller('/hello');
      return x.upstreamStatus === 200 && x.echo?.headers['x-skein-client-id'] === CALLER_ID ? x : undefined;
    }, 120_000);
    expect(r.echo!.headers['x-skein-client-id']).toBe(CALLER_ID);
    // On the wire: echo's sidecar terminated a verified mTLS connection from that identity (no header involved).
    const m = await sidecarMetrics('echo');
    const line = m.split('\n').find((l) => l.startsWith('skein_requests_total{') && l.includes('direction="inbound"') && l.includes('mtls="true"') && l.includes(`source_identity="${CALLER_ID}"`));
    expect(line, 'an inbound mTLS request from the caller in echo\'s sidecar metrics').toBeDefined();
    expect(Number(line!.split(' ').pop())).toBeGreaterThan(0);
  });

  it('a spoofed x-skein-client-id from a plain-text client never reaches the app', async () => {
    const r = await plainToEcho('/spoof', { 'x-skein-client-id': CALLER_ID, 'X-Skein-Client-Id': 'spiffe://evil/ns/x/sa/y' });
    expect(r).not.toBe('refused');
    if (r === 'refused') return;
    expect(r.status).toBe(200);
    expect(r.echo?.headers).toBeDefined();
    expect(r.echo!.headers['x-skein-client-id']).toBeUndefined();
  });

  it('a strict MeshTLSPolicy refuses plain text, a kept-alive connection included (mTLS callers still pass); permissive accepts it again', async () => {
    expect(await plainToEcho('/before')).toMatchObject({ status: 200 });
    // A plain-text keep-alive connection opened while echo's port is permissive, one request answered on it.
    const kept = net.connect({ host: mesh.ips.get('echo'), port: 8080 });
    kept.on('error', () => {});
    let keptText = '';
    kept.setEncoding('latin1');
    kept.on('data', (c: string) => (keptText += c));
    let keptClosed = false;
    kept.once('close', () => (keptClosed = true));
    kept.write('GET /kept HTTP/1.1\r\nhost: echo\r\n\r\n');
    await waitFor('the answer on the kept-alive connection', async () => (/^HTTP\/1\.1 200 /.test(keptText) ? true : undefined), 15_000, 50);
    // The test reaches the caller app from the host in plain text: the caller's workload keeps Permissive (a workload
    // policy overrides the namespace's; created first and removed last, so the caller is never strict in between). Without
    // it, the namespace's Strict closes the host's kept-alive connection to the caller and refuses new ones.
    await mtls().apply('caller-permissive', { selector: { matchLabels: { app: 'caller' } }, mode: 'Permissive' });
    await mtls().apply('strict', { mode: 'Strict' });
    try {
      await waitFor('plain text to echo refused', async () => ((await plainToEcho('/strict')) === 'refused' ? true : undefined), 60_000);
      // The kept-alive connection was closed by the switch, so no second request can be made on it.
      await waitFor('the kept-alive connection closed', async () => (keptClosed ? true : undefined), 10_000, 50);
      expect(keptText.match(/HTTP\/1\.1 /g)?.length).toBe(1);
      // Refused on every try, not once by chance.
      for (let i = 0; i < 5; i++) expect(await plainToEcho(`/strict-${i}`)).toBe('refused');
      const viaMesh = await viaCaller('/strict-mesh');
      expect(viaMesh.upstreamStatus).toBe(200);
      expect(viaMesh.echo?.headers['x-skein-client-id']).toBe(CALLER_ID);
      // A workload policy naming the port overrides the namespace's mode for it.
      await mtls().apply('echo-port-permissive', { selector: { matchLabels: { app: 'echo' } }, ports: [{ port: 8080, mode: 'Permissive' }] });
      await waitFor('plain text to echo accepted on its permissive port', async () => ((await plainToEcho('/permissive')) !== 'refused' ? true : undefined), 60_000);
      expect(await plainToEcho('/permissive-again')).toMatchObject({ status: 200 });
    } finally {
      await mtls().remove('echo-port-permissive').catch(() => {});
      await mtls().remove('strict');
    }
    await waitFor('permissive again', async () => ((await plainToEcho('/after')) !== 'refused' ? true : undefined), 60_000);
    await mtls().remove('caller-permissive');
  });

  it('opaque TCP caller -> echo (its ClusterIP) goes over mTLS: it passes under Strict, and echo\'s sidecar counts it as mTLS from the caller', async () => {
    const kubectl = kubectlIn(mesh.cluster);
    const caller = (await mesh.core.listNamespacedPod({ namespace: NS, labelSelector: 'app=caller' })).items.find((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp)!.metadata!.name!;
    const svc = await mesh.core.readNamespacedService({ name: 'echo', namespace: NS });
    // From inside the caller pod (its sidecar takes the connection): bytes to echo's ClusterIP:port, echoed back. The first
    // byte after "tcp" is a newline, so the caller sidecar's detection says opaque TCP at once.
    const script = `const s=require('net').connect(${ECHO_TCP_PORT},'${svc.spec!.clusterIP}',()=>s.write('tcp-over-mtls\\n'));let g='';s.on('data',d=>{g+=d;if(g.includes('\\n')){console.log(g.trim());s.destroy();}});s.on('error',e=>{console.log('error '+e.code);});setTimeout(()=>{console.log('timeout '+g);process.exit(0)},8000).unref();`;
    const viaMesh = () => kubectl(['-n', NS, 'exec', caller, '-c', 'caller', '--', '/usr/local/bin/node', '-e', script]).catch((e: Error) => e.message);
    const plainTcp = () =>
      new Promise<string>((resolve) => {
        const s = net.connect({ host: mesh.ips.get('echo'), port: ECHO_TCP_PORT }, () => s.write('plain\n'));
        let got = '';
        s.setEncoding('latin1');
        s.on('data', (c: string) => (got += c));
        s.on('error', () => {});
        s.setTimeout(10_000, () => s.destroy());
        s.once('close', () => resolve(got === '' ? 'refused' : got));
        s.on('data', () => got.includes('\n') && s.end());
      });
    expect((await viaMesh()).trim()).toBe('tcp-over-mtls');
    await mtls().apply('caller-permissive', { selector: { matchLabels: { app: 'caller' } }, mode: 'Permissive' });
    await mtls().apply('strict', { mode: 'Strict' });
    try {
      await waitFor('plain-text TCP to echo refused', async () => ((await plainTcp()) === 'refused' ? true : undefined), 60_000);
      expect((await viaMesh()).trim()).toBe('tcp-over-mtls');
      const m = await sidecarMetrics('echo');
      const line = m.split('\n').find((l) => l.startsWith('skein_tcp_connections_opened_total{') && l.includes('direction="inbound"') && l.includes('mtls="true"') && l.includes(`source_identity="${CALLER_ID}"`));
      expect(line, 'an inbound mTLS TCP connection from the caller in echo\'s sidecar metrics').toBeDefined();
      expect(Number(line!.split(' ').pop())).toBeGreaterThanOrEqual(2);
    } finally {
      await mtls().remove('strict');
      await mtls().remove('caller-permissive');
    }
  });

  it('an AuthorizationPolicy over HTTP: the caller\'s identity may GET /api, anything else is 403 and never reaches the app', async () => {
    await authz().apply('echo-api-from-caller', {
      targetRef: { kind: 'Service', name: 'echo' },
      rules: [{ from: [{ serviceAccounts: [{ name: 'caller' }] }], to: [{ paths: [{ type: 'PathPrefix', value: '/api' }], methods: ['GET'] }] }],
    });
    try {
      await waitFor('the policy in force at echo', async () => ((await viaCaller('/admin')).upstreamStatus === 403 ? true : undefined), 60_000);
      const allowed = await viaCaller('/api/items');
      expect(allowed.upstreamStatus).toBe(200);
      expect(allowed.echo?.headers['x-skein-client-id']).toBe(CALLER_ID);
      expect((await viaCaller('/admin')).upstreamStatus).toBe(403);
      // Unauthenticated (plain text from outside the mesh): not the caller's identity.
      expect(await plainToEcho('/api/items')).toMatchObject({ status: 403, echo: null });
      const m = await sidecarMetrics('echo');
      expect(m).toMatch(new RegExp(`skein_authorization_decisions_total\\{listener="inbound",policy="${NS}/echo-api-from-caller",decision="allow",reason="policy"\\} [1-9]`));
      expect(m).toMatch(new RegExp(`skein_authorization_decisions_total\\{listener="inbound",policy="${NS}/echo-api-from-caller",decision="deny",reason="no-match"\\} [1-9]`));
      // The Lease holder wrote the policy's status.
      const status = await waitFor('the policy\'s Accepted condition', async () => {
        const o = (await mesh.custom.getNamespacedCustomObject({ group: AUTHORIZATION_POLICY_GROUP, version: AUTHORIZATION_POLICY_VERSION, namespace: NS, plural: AUTHORIZATION_POLICY_PLURAL, name: 'echo-api-from-caller' })) as { status?: { conditions?: { type: string; status: string }[] } };
        return o.status?.conditions?.find((c) => c.type === 'Accepted');
      }, 60_000);
      expect(status.status).toBe('True');
    } finally {
      await authz().remove('echo-api-from-caller');
    }
    await waitFor('the policy gone', async () => ((await viaCaller('/admin')).upstreamStatus === 200 ? true : undefined), 60_000);
  });

  it('an AuthorizationPolicy over gRPC: an allowed call answers OK, a denied one is PERMISSION_DENIED', async () => {
    expect(await sayPlain()).toBe('OK');
    await authz().apply('grpc-only-caller', { selector: { matchLabels: { app: 'grpc-echo' } }, rules: [{ from: [{ serviceAccounts: [{ name: 'caller' }] }] }] });
    try {
      await waitFor('the gRPC call denied', async () => ((await sayPlain()) === 'PERMISSION_DENIED' ? true : undefined), 60_000);
      // Unauthenticated callers may call Say once a rule names it.
      await authz().apply('grpc-say-for-anyone', { selector: { matchLabels: { app: 'grpc-echo' } }, rules: [{ from: [{ unauthenticated: true }], to: [{ paths: [{ type: 'Exact', value: '/skein.examples.Echo/Say' }], methods: ['POST'] }] }] });
      await waitFor('the gRPC call allowed', async () => ((await sayPlain()) === 'OK' ? true : undefined), 60_000);
    } finally {
      await authz().remove('grpc-say-for-anyone').catch(() => {});
      await authz().remove('grpc-only-caller');
    }
  });
});
