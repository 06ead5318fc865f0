// manifests/injector/ agrees with itself and with the code: names, image, selectors, policies.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { INJECT_LABEL, MESH_NAMESPACE, SKEIN_IMAGE } from '../../api/mesh/mesh-constants.ts';
import { DEFAULT_WEBHOOK_CONFIG_NAME } from '../../cli/commands/injector.ts';
import { MUTATE_PATH } from '../../injector/webhook-server.ts';

const dir = join(import.meta.dirname, '../../manifests/injector');
type Obj = Record<string, any>;
const objects: Obj[] = readdirSync(dir).filter((f) => f.endsWith('.yaml')).flatMap((f) =>
  parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Obj;
  }));
const find = (kind: string) => objects.filter((o) => o.kind === kind);

describe('manifests/injector', () => {
  const mwc = find('MutatingWebhookConfiguration')[0]!;
  const deployment = find('Deployment')[0]!;
  const service = find('Service')[0]!;
  it('has every piece', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'MutatingWebhookConfiguration', 'Namespace', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    expect(find('Namespace')[0]!.metadata.name).toBe(MESH_NAMESPACE);
  });
  it('the Deployment runs `skein injector` from the Skein image and writes the caBundle of the configuration shipped here', () => {
    const c = deployment.spec.template.spec.containers[0];
    expect(c.image).toBe(SKEIN_IMAGE);
    expect(c.args[0]).toBe('injector');
    expect(c.args).toContain(`--webhook-config=${mwc.metadata.name}`);
    expect(mwc.metadata.name).toBe(DEFAULT_WEBHOOK_CONFIG_NAME);
    expect(deployment.spec.template.spec.serviceAccountName).toBe(find('ServiceAccount')[0]!.metadata.name);
    expect(deployment.spec.template.metadata.labels[INJECT_LABEL]).toBe('disabled');
  });
  it('RBAC allows exactly updating that configuration', () => {
    const rule = find('ClusterRole')[0]!.rules[0];
    expect(rule.resources).toEqual(['mutatingwebhookconfigurations']);
    expect(rule.resourceNames).toEqual([mwc.metadata.name]);
    expect(rule.verbs).toEqual(expect.arrayContaining(['get', 'update']));
  });
  it('both webhook entries call the Service, on pod CREATE, with policies set and the mesh namespaces excluded', () => {
    expect(mwc.webhooks).toHaveLength(2);
    for (const w of mwc.webhooks) {
      expect(w.clientConfig.service).toEqual({ name: service.metadata.name, namespace: service.metadata.namespace, path: MUTATE_PATH, port: service.spec.ports[0].port });
      expect(w.rules).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
      expect(w).toMatchObject({ admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 5, reinvocationPolicy: 'IfNeeded' });
      expect(w.namespaceSelector.matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', MESH_NAMESPACE] });
    }
    const [byNamespace, byPod] = mwc.webhooks;
    expect(byNamespace.namespaceSelector.matchExpressions).toContainEqual({ key: INJECT_LABEL, operator: 'In', values: ['enabled'] });
    expect(byNamespace.objectSelector.matchExpressions).toContainEqual({ key: INJECT_LABEL, operator: 'NotIn', values: ['disabled'] });
    // The two entries never select the same pod: In [enabled] vs NotIn [enabled] on the namespace.
    expect(byPod.namespaceSelector.matchExpressions).toContainEqual({ key: INJECT_LABEL, operator: 'NotIn', values: ['enabled'] });
    expect(byPod.matchConditions[0].expression).toContain("== 'enabled'");
  });
});
