// Typed failures of the local cluster (build, start, readiness), each with a stable SKEIN_ERR_* code.
export type LocalClusterErrorCode =
  | 'SKEIN_ERR_LOCAL_CLUSTER_BUILD'
  | 'SKEIN_ERR_LOCAL_CLUSTER_START'
  | 'SKEIN_ERR_LOCAL_CLUSTER_NOT_READY'
  | 'SKEIN_ERR_LOCAL_CLUSTER_NODE_BUSY'
  | 'SKEIN_ERR_LOCAL_CLUSTER_CONFIG';

export class LocalClusterError extends Error {
  readonly code: LocalClusterErrorCode;
  constructor(code: LocalClusterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalClusterError';
    this.code = code;
  }
}
