// Posts kubelet-style Events about pods (what `kubectl describe pod` lists); best effort, a failed post is dropped.
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';

export type PodEventPoster = (pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath: string | undefined) => void;

export function podEventPoster(core: CoreV1Api, nodeName: string): PodEventPoster {
  return (pod, type, reason, message, fieldPath) => {
    const now = new Date();
    const ns = pod.metadata?.namespace ?? 'default';
    core.createNamespacedEvent({
      namespace: ns,
      body: {
        metadata: { name: `${pod.metadata?.name}.${now.getTime().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`, namespace: ns },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, namespace: ns, uid: pod.metadata?.uid, ...(fieldPath ? { fieldPath } : {}) },
        reason, message: message.slice(0, 1024), type, count: 1, firstTimestamp: now, lastTimestamp: now,
        source: { component: 'kubelet', host: nodeName }, reportingComponent: 'kubelet', reportingInstance: nodeName,
      },
    }).catch(() => undefined); // events are advisory: never let them fail a pod
  };
}
