// AdmissionReview handling: the answer is always a valid AdmissionReview, and hostile inputs (RELIABILITY.md 15) get clear messages.
import { describe, expect, it } from 'vitest';
import { podAdmissionReview, samplePod } from './admission-review-fixture.ts';
import { reviewAdmission } from './admission-review.ts';
import { applyJsonPatch } from './json-patch.ts';
import { meshSettings } from './mesh-settings.ts';

const settings = meshSettings();
const run = (body: unknown, limits = {}) => reviewAdmission(typeof body === 'string' ? body : JSON.stringify(body), settings, limits);

function expectValid(a: ReturnType<typeof run>): void {
  expect(a.body.kind).toBe('AdmissionReview');
  expect(a.body.apiVersion).toMatch(/^admission\.k8s\.io\/v1(beta1)?$/);
  expect(typeof a.body.response.uid).toBe('string');
  expect(typeof a.body.response.allowed).toBe('boolean');
}

describe('reviewAdmission', () => {
  it('injects a pod: base64 JSONPatch that yields the sidecar', () => {
    const pod = samplePod();
    const a = run(podAdmissionReview(pod));
    expectValid(a);
    expect(a.result).toBe('injected');
    expect(a.body.response).toMatchObject({ uid: 'b3f1c2d4-0000-4000-8000-000000000001', allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(a.body.response.patch!, 'base64').toString('utf8'));
    const applied = applyJsonPatch(pod, patch);
    expect(applied.ok).toBe(true);
    const names = ((applied.ok ? applied.value : {}) as { spec: { initContainers: { name: string }[] } }).spec.initContainers.map((c) => c.name);
    expect(names).toEqual(['skein-init', 'skein-proxy']);
  });
  it('denies invalid skein annotations with every problem named', () => {
    const pod = samplePod();
    (pod.metadata as { annotations?: Record<string, string> }).annotations = { 'skein.dev/proxy-cpu': 'lots', 'skein.dev/log-level': 'loud' };
    const a = run(podAdmissionReview(pod));
    expectValid(a);
    expect(a.result).toBe('denied');
    expect(a.body.response.allowed).toBe(false);
    expect(a.body.response.patch).toBeUndefined();
    expect(a.body.response.status?.message).toMatch(/skein\.dev\/proxy-cpu.*lots.*skein\.dev\/log-level.*loud/);
  });
  it('reinvocation: a pod that already has the sidecar is allowed without a patch', () => {
    const first = run(podAdmissionReview(samplePod()));
    const patched = applyJsonPatch(samplePod(), JSON.parse(Buffer.from(first.body.response.patch!, 'base64').toString()));
    const again = run(podAdmissionReview(patched.ok ? patched.value : null));
    expect(again.result).toBe('skipped');
    expect(again.body.response).toEqual({ uid: 'b3f1c2d4-0000-4000-8000-000000000001', allowed: true });
  });
  it('hostNetwork pods and opted-out pods pass unchanged', () => {
    const host = samplePod();
    (host.spec as Record<string, unknown>).hostNetwork = true;
    expect(run(podAdmissionReview(host)).body.response.patch).toBeUndefined();
    const out = samplePod();
    (out.metadata as { annotations?: Record<string, string> }).annotations = { 'skein.dev/inject': 'disabled' };
    expect(run(podAdmissionReview(out)).body.response).toEqual({ uid: 'b3f1c2d4-0000-4000-8000-000000000001', allowed: true });
  });

  const hostile: [string, unknown, RegExp][] = [
    ['malformed JSON', '{"apiVersion":"admission.k8s.io/v1","request":{"uid":"abc-1",', /not valid JSON/],
    ['empty body', '', /not valid JSON/],
    ['a JSON array', '[1,2,3]', /not an AdmissionReview/],
    ['JSON null', 'null', /not an AdmissionReview/],
    ['wrong apiVersion', { ...podAdmissionReview(samplePod()), apiVersion: 'admission.k8s.io/v2' }, /unsupported apiVersion/],
    ['wrong kind', { ...podAdmissionReview(samplePod()), kind: 'TokenReview' }, /unexpected kind/],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /no request\.uid/],
    ['uid not a string', podAdmissionReview(samplePod(), { uid: 42 }), /no request\.uid/],
    ['a Deployment', podAdmissionReview({}, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' } }), /handles pods, not Deployment/],
    ['a pod subresource', podAdmissionReview(samplePod(), { subResource: 'ephemeralcontainers' }), /not Pod\/ephemeralcontainers/],
    ['UPDATE', podAdmissionReview(samplePod(), { operation: 'UPDATE' }), /only CREATE/],
    ['no object', podAdmissionReview(undefined), /not a pod/],
    ['containers not a list', podAdmissionReview({ spec: { containers: { a: 1 } } }), /spec\.containers/],
    ['labels not strings', podAdmissionReview({ metadata: { labels: { a: { b: 1 } } }, spec: { containers: [{ name: 'a' }] } }), /labels/],
  ];
  for (const [name, body, message] of hostile) {
    it(`hostile input: ${name} -> allowed, with a clear warning`, () => {
      const a = run(body);
      expectValid(a);
      expect(a.body.response.allowed).toBe(true);
      expect(a.body.response.patch).toBeUndefined();
      expect(a.body.response.warnings?.join(' ')).toMatch(message);
    });
  }
  it('keeps the uid of malformed JSON when it can find it', () => {
    expect(run('{"request":{"uid":"abc-1", "object": {').body.response.uid).toBe('abc-1');
  });
  it('oversized review: not parsed, allowed with the size in the warning', () => {
    const big = JSON.stringify(podAdmissionReview(samplePod()));
    const a = run(big, { maxBytes: 100 });
    expect(a.result).toBe('error');
    expect(a.body.response.uid).toBe('b3f1c2d4-0000-4000-8000-000000000001');
    expect(a.body.response.warnings?.[0]).toMatch(/exceeds the injector's limit of 100 bytes/);
  });
  it('huge but legal pod (2000 containers) is injected quickly', () => {
    const pod = samplePod();
    const c = (pod.spec as { containers: unknown[] }).containers[0] as Record<string, unknown>;
    (pod.spec as { containers: unknown[] }).containers = Array.from({ length: 2000 }, (_, i) => ({ ...c, name: `c${i}` }));
    const t0 = performance.now();
    const a = run(podAdmissionReview(pod));
    expect(a.result).toBe('injected');
    expect(performance.now() - t0).toBeLessThan(2000);
  });
  it('deeply nested JSON does not crash it', () => {
    const deep = '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"d-1","kind":{"group":"","kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[{"name":"a","x":' + '['.repeat(200_000) + ']'.repeat(200_000) + '}]}}}}';
    const a = run(deep);
    expectValid(a);
    expect(a.body.response.uid).toBe('d-1');
  });
});

describe('OutcomeCache', () => {
  it('identical pods (a Deployment scaling up) reuse the answer, each with its own uid', async () => {
    const { OutcomeCache } = await import('./admission-review.ts');
    const cache = new OutcomeCache();
    const a = reviewAdmission(JSON.stringify(podAdmissionReview(samplePod(), {}, 'u-1')), settings, { cache });
    const b = reviewAdmission(JSON.stringify(podAdmissionReview(samplePod(), {}, 'u-2')), settings, { cache });
    expect(cache.hits).toBe(1);
    expect(b.body.response.uid).toBe('u-2');
    expect({ ...b.body.response, uid: 'u-1' }).toEqual(a.body.response);
    // The namespace is part of the key: the same pod in kube-system is not injected.
    const c = reviewAdmission(JSON.stringify(podAdmissionReview(samplePod(), { namespace: 'kube-system' }, 'u-3')), settings, { cache });
    expect(c.body.response.patch).toBeUndefined();
  });
});
