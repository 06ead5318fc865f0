// The control plane's typed failures (stable SKEIN_ERR_CP_* codes); they become gRPC statuses only at the RPC boundary.

export type ControlPlaneErrorCode =
  | 'SKEIN_ERR_CP_BAD_HELLO'
  | 'SKEIN_ERR_CP_NO_HELLO'
  | 'SKEIN_ERR_CP_UNKNOWN_PROXY'
  | 'SKEIN_ERR_CP_TRANSLATION'
  | 'SKEIN_ERR_CP_ACK_TIMEOUT'
  | 'SKEIN_ERR_CP_SHUTTING_DOWN'
  | 'SKEIN_ERR_CP_CA_INVALID'
  | 'SKEIN_ERR_CP_CA_STORE';

export class ControlPlaneError extends Error {
  readonly code: ControlPlaneErrorCode;
  constructor(code: ControlPlaneErrorCode, message: string) {
    super(message);
    this.name = 'ControlPlaneError';
    this.code = code;
  }
}
