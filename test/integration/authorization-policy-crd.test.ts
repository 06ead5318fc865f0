// The AuthorizationPolicy and MeshTLSPolicy CRDs as shipped, on a real API server: a valid policy is stored, and each CEL
// or schema refusal comes back with its message; the stored object converts to the proxy's model.
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationPolicyConfig, type AuthorizationPolicy } from '../../api/crd/authorization-policy.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';

const NS = 'authz-crd';

describe('AuthorizationPolicy CRD on a real API server', () => {
  let cluster: LocalClusterDetails;
  let kc: k8s.KubeConfig;

  beforeAll(async () => {
    cluster = await startLocalCluster({ withNodeAgent: false, log: () => {} });
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  /** Server-side apply of the file's own YAML (client-node's typed serializer would drop x-kubernetes-validations). */
  async function applyCrd(file: string, name: string): Promise<void> {
    const yamlText = readFileSync(join(import.meta.dirname, '../../manifests/control-plane', file), 'utf8');
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const server = new URL(kc.getCurrentCluster()!.server);
    const [status, answer] = await new Promise<[number, string]>((resolve, reject) => {
      const req = https.request(
        {
          ...opts,
          hostname: server.hostname,
          port: server.port,
          method: 'PATCH',
          path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=skein-test&force=true`,
          headers: { ...opts.headers, 'content-type': 'application/apply-patch+yaml' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve([res.statusCode ?? 0, body]));
        },
      );
      req.on('error', reject);
      req.end(yamlText);
    });
    expect([200, 201], answer).toContain(status);
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    for (let i = 0; i < 200; i++) {
      const crd = await ext.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const creator = (plural: string, kind: string) => {
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const create = (name: string, spec: Record<string, unknown>) =>
      custom.createNamespacedCustomObject({ group: 'skein.dev', version: 'v1alpha1', namespace: NS, plural, body: { apiVersion: 'skein.dev/v1alpha1', kind, metadata: { name }, spec } });
    const refusal = async (spec: Record<string, unknown>): Promise<string> => {
      try {
        await create(`bad-${Math.random().toString(36).slice(2, 8)}`, spec);
      } catch (e) {
        return String((e as { body?: unknown }).body ?? (e as Error).message);
      }
      throw new Error(`the API server accepted an invalid ${kind}: ${JSON.stringify(spec)}`);
    };
    return { create, refusal };
  };

  it('stores a valid AuthorizationPolicy and refuses bad ones with their messages', async () => {
    await applyCrd('crd-authorizationpolicies.yaml', 'authorizationpolicies.skein.dev');
    const { create, refusal } = creator('authorizationpolicies', 'AuthorizationPolicy');
    const stored = (await create('web-may-read', {
      selector: { matchLabels: { app: 'echo' } },
      rules: [
        { from: [{ serviceAccounts: [{ name: 'web' }] }, { identities: ['spiffe://cluster.local/ns/ops/sa/probe'] }], to: [{ ports: [8080], paths: [{ type: 'PathPrefix', value: '/api' }], methods: ['GET'] }] },
        { from: [{ unauthenticated: true }], to: [{ paths: [{ type: 'Exact', value: '/healthz' }] }] },
      ],
    })) as AuthorizationPolicy;
    expect(authorizationPolicyConfig(stored, 'cluster.local')).toEqual({
      name: `${NS}/web-may-read`,
      rules: [
        {
          from: [
            { identities: [`spiffe://cluster.local/ns/${NS}/sa/web`], namespaces: [], unauthenticated: false },
            { identities: ['spiffe://cluster.local/ns/ops/sa/probe'], namespaces: [], unauthenticated: false },
          ],
          to: [{ ports: [8080], paths: [{ type: 'prefix', value: '/api' }], methods: ['GET'] }],
        },
        { from: [{ identities: [], namespaces: [], unauthenticated: true }], to: [{ ports: [], paths: [{ type: 'exact', value: '/healthz' }], methods: [] }] },
      ],
    });
    await create('deny-all', {});
    expect(await refusal({ rules: [{ from: [{}] }] })).toMatch(/a source names serviceAccounts, identities, namespaces or unauthenticated/);
    expect(await refusal({ rules: [{ from: [{ unauthenticated: true, namespaces: ['a'] }] }] })).toMatch(/unauthenticated cannot be combined/);
    expect(await refusal({ rules: [{ to: [{}] }] })).toMatch(/a target names ports, paths or methods/);
    expect(await refusal({ rules: [{ to: [{ paths: [{ type: 'PathPrefix', value: '/a/../b' }] }] }] })).toMatch(/paths\[0\].value/);
    expect(await refusal({ rules: [{ to: [{ paths: [{ type: 'Exact', value: '/a%2Fb' }] }] }] })).toMatch(/value/);
    expect(await refusal({ rules: [{ from: [{ identities: ['spiffe://cluster.local/ns/*/sa/web'] }] }] })).toMatch(/identities/);
    expect(await refusal({ rules: [{ to: [{ methods: ['get'] }] }] })).toMatch(/methods/);
    await create('by-service-account', { targetRef: { kind: 'ServiceAccount', name: 'web' }, rules: [] });
    expect(await refusal({ selector: { matchLabels: { app: 'a' } }, targetRef: { kind: 'Service', name: 'a' } })).toMatch(/selector and targetRef cannot both be set/);
    expect(await refusal({ targetRef: { kind: 'Deployment', name: 'a' } })).toMatch(/targetRef must name a core Service or ServiceAccount/);
  });

  it('stores valid MeshTLSPolicies and refuses bad ones with their messages', async () => {
    await applyCrd('crd-meshtlspolicies.yaml', 'meshtlspolicies.skein.dev');
    const { create, refusal } = creator('meshtlspolicies', 'MeshTLSPolicy');
    await create('namespace-strict', { mode: 'Strict' });
    await create('echo-metrics-port', { selector: { matchLabels: { app: 'echo' } }, ports: [{ port: 9090, mode: 'Permissive' }] });
    expect(await refusal({})).toMatch(/a MeshTLSPolicy names a mode or ports/);
    expect(await refusal({ mode: 'Lax' })).toMatch(/spec.mode/);
    expect(await refusal({ ports: [{ port: 80, mode: 'Strict' }, { port: 80, mode: 'Permissive' }] })).toMatch(/Duplicate value/);
    expect(await refusal({ mode: 'Strict', selector: {}, targetRef: { kind: 'Service', name: 'a' } })).toMatch(/selector and targetRef cannot both be set/);
  });
});
