// The node agent's typed error: a stable SKEIN_ERR_NODE_* code plus a message for the log and the pod status.
export class NodeAgentError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'NodeAgentError';
    this.code = code;
  }
}
