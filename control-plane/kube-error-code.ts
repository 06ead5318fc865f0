// The HTTP status of a failed @kubernetes/client-node call (its ApiException carries it as `code`), or undefined.
export function kubeErrorCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
