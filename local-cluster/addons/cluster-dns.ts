// The cluster DNS addon on the real node: CoreDNS as a Deployment behind the `kube-dns` Service at the IP the kubelet gives pods.
import { AppsV1Api, KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { applyManifests } from '../apply-manifests.ts';
import { LocalClusterError } from '../local-cluster-error.ts';
import { poll } from '../poll.ts';

/** The Service IP pods get as their nameserver (kubelet clusterDNS); the 10th address of the service range, as kubeadm picks. */
export const CLUSTER_DNS_IP = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
export const CLUSTER_DNS_NAMESPACE = 'kube-system';
export const CLUSTER_DNS_NAME = 'coredns';

/**
 * The Corefile Kubernetes ships (kubeadm's), less what this cluster has no use for: Service and pod names of the cluster
 * domain from the API; anything else to the node's resolvers. Every directive here needs its plugin compiled in by
 * build-coredns.sh.
 */
export function corefile(domain = CLUSTER_DOMAIN): string {
  return `.:53 {
    errors
    health {
      lameduck 2s
    }
    ready
    kubernetes ${domain} in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
      ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
      max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;
}

/** Every object of the addon, as a user would `kubectl apply` them (names and labels as kubeadm's, so tools that look for kube-dns find it). */
export function clusterDnsManifests(image: string, dnsIp = CLUSTER_DNS_IP): KubernetesObject[] {
  const ns = CLUSTER_DNS_NAMESPACE;
  const labels = { 'k8s-app': 'kube-dns' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: CLUSTER_DNS_NAME, namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    } as KubernetesObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: CLUSTER_DNS_NAME, namespace: ns }],
    } as KubernetesObject,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CLUSTER_DNS_NAME, namespace: ns }, data: { Corefile: corefile() } } as KubernetesObject,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: ns, labels: { ...labels, 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        selector: labels,
        clusterIP: dnsIp,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
        ],
      },
    } as KubernetesObject,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: CLUSTER_DNS_NAME, namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: CLUSTER_DNS_NAME,
            priorityClassName: 'system-cluster-critical',
            // CoreDNS itself resolves upstream names through the node's resolvers, not through itself.
            dnsPolicy: 'Default',
            terminationGracePeriodSeconds: 5,
            securityContext: {
              runAsUser: 65534,
              runAsGroup: 65534,
              runAsNonRoot: true,
              seccompProfile: { type: 'RuntimeDefault' },
              // Port 53 as nobody, without a file capability (our image layers carry no xattrs): a safe, namespaced sysctl.
              sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '53' }],
            },
            containers: [
              {
                name: 'coredns',
                image,
                imagePullPolicy: 'IfNotPresent',
                args: ['-conf', '/etc/coredns/Corefile'],
                resources: { requests: { cpu: '50m', memory: '40Mi' }, limits: { memory: '170Mi' } },
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
                ],
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 5 },
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 1 },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              },
            ],
            volumes: [{ name: 'config', configMap: { name: CLUSTER_DNS_NAME, items: [{ key: 'Corefile', path: 'Corefile' }] } }],
          },
        },
      },
    } as KubernetesObject,
  ];
}

/** Applies the addon and waits until CoreDNS answers (its Deployment available: /ready says the Kubernetes plugin has synced). */
export async function deployClusterDns(opts: { kubeconfigPath: string; image: string; log: (line: string) => void; timeoutMs?: number }): Promise<void> {
  const objects = clusterDnsManifests(opts.image);
  await applyManifests(opts.kubeconfigPath, objects, (l) => opts.log(`cluster DNS: ${l}`));
  const kc = new KubeConfig();
  kc.loadFromFile(opts.kubeconfigPath);
  const apps = kc.makeApiClient(AppsV1Api);
  const ok = await poll(async () => {
    const d = await apps.readNamespacedDeployment({ name: CLUSTER_DNS_NAME, namespace: CLUSTER_DNS_NAMESPACE });
    return (d.status?.availableReplicas ?? 0) >= 1 ? true : undefined;
  }, opts.timeoutMs ?? 120_000, 250);
  if (!ok) {
    throw new LocalClusterError('SKEIN_ERR_LOCAL_CLUSTER_NOT_READY', `CoreDNS (${CLUSTER_DNS_NAMESPACE}/${CLUSTER_DNS_NAME}) did not become available; see the kubelet's log and \`kubectl -n kube-system logs deploy/coredns\``);
  }
}
