// A Kubernetes status condition (metav1.Condition) as our custom resources store it; control-plane/status writes them.
export interface KubeCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
}
