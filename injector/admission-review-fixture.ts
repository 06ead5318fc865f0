// AdmissionReview requests as the API server sends them, for tests and the benchmark.

export function podAdmissionReview(pod: unknown, overrides: Record<string, unknown> = {}, uid = 'b3f1c2d4-0000-4000-8000-000000000001'): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
      dryRun: false,
      ...overrides,
    },
  };
}

export function samplePod(): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-5d8f-', namespace: 'shop', labels: { app: 'web', 'pod-template-hash': '5d8f' } },
    spec: {
      serviceAccountName: 'web',
      containers: [
        {
          name: 'web',
          image: 'skein.dev/example-web:1',
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/healthz', port: 'http' } },
          livenessProbe: { tcpSocket: { port: 8080 } },
        },
      ],
    },
  };
}
