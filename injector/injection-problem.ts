// Why the injector refused a pod: a stable code, the annotation at fault and a message for the person who wrote the pod.

export type InjectionProblemCode =
  | 'SKEIN_ERR_INJECT_INVALID_ANNOTATION'
  | 'SKEIN_ERR_INJECT_INVALID_RESOURCES';

export interface InjectionProblem {
  readonly code: InjectionProblemCode;
  /** The label or annotation key at fault. */
  readonly key: string;
  readonly message: string;
}

export function formatProblems(problems: readonly InjectionProblem[]): string {
  return problems.map((p) => `${p.key}: ${p.message}`).join('; ');
}
