// What the injector tells a sidecar about its own pod through the environment (SIDECAR_ENV), for telemetry.
import { SIDECAR_ENV } from '../../api/mesh/mesh-constants.ts';

export interface WorkloadEnv {
  readonly pod?: string | undefined;
  readonly namespace?: string | undefined;
  readonly serviceAccount?: string | undefined;
  /** The `skein.dev/access-log` annotation of the pod (the injector's SKEIN_ACCESS_LOG). */
  readonly accessLog?: boolean;
}

export function readWorkloadEnv(env: NodeJS.ProcessEnv): WorkloadEnv {
  return {
    pod: env[SIDECAR_ENV.podName],
    namespace: env[SIDECAR_ENV.podNamespace],
    serviceAccount: env[SIDECAR_ENV.serviceAccount],
    accessLog: env[SIDECAR_ENV.accessLog] === 'true',
  };
}
