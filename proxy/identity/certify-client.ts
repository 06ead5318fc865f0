// The proxy's Certify client: one unary call to the control plane's identity service over TLS (its CA as the only root).
import * as grpc from '@grpc/grpc-js';
import { loadIdentity, type CertifyRequest, type CertifyResponse } from '../../api/proto/identity.ts';
import type { CertFailureReason } from './identity-metrics.ts';
import { CertifyFailure, type Certify } from './workload-certificate-manager.ts';

export interface CertifyClientOptions {
  /** host:port of the identity service (the control plane, port 15012). */
  readonly address: string;
  /** PEM roots that sign the control plane's serving certificate (the mesh trust bundle). */
  readonly caPem: string;
  /** The name the serving certificate must carry, when `address` is not it (tests dial 127.0.0.1). */
  readonly serverName?: string;
  readonly timeoutMs?: number;
}

function reasonOf(code: number | undefined): CertFailureReason {
  switch (code) {
    case grpc.status.PERMISSION_DENIED:
      return 'permission-denied';
    case grpc.status.UNAUTHENTICATED:
      return 'unauthenticated';
    case grpc.status.INVALID_ARGUMENT:
      return 'invalid-argument';
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return 'unavailable';
    default:
      return 'other';
  }
}

/** A Certify function over one channel, and a way to close it. */
export function certifyClient(o: CertifyClientOptions): { certify: Certify; close(): void } {
  const { Client } = loadIdentity();
  const channelOptions: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': 1 << 20,
    ...(o.serverName ? { 'grpc.ssl_target_name_override': o.serverName, 'grpc.default_authority': o.serverName } : {}),
  };
  const client = new Client(o.address, grpc.credentials.createSsl(Buffer.from(o.caPem)), channelOptions) as unknown as grpc.Client & {
    certify(req: CertifyRequest, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res?: CertifyResponse) => void): void;
  };
  const certify: Certify = (req) =>
    new Promise((resolve, reject) => {
      client.certify(req, { deadline: Date.now() + (o.timeoutMs ?? 10_000) }, (e, res) => {
        if (e) reject(new CertifyFailure(reasonOf(e.code), `${grpc.status[e.code] ?? e.code}: ${e.details}`));
        else if (!res) reject(new CertifyFailure('invalid-response', 'empty response'));
        else resolve(res);
      });
    });
  return { certify, close: () => client.close() };
}
