// The Certify gRPC server (TLS, port 15012): the RPC boundary where a refusal value becomes its gRPC status.
import * as grpc from '@grpc/grpc-js';
import { loadIdentity, type CertifyRequest, type CertifyResponse } from '../../api/proto/identity.ts';
import { IDENTITY_REJECTIONS } from './identity-rejection.ts';
import type { IdentityService } from './identity-service.ts';
import { shutdownGrpcServer } from '../serving/shutdown-grpc-server.ts';

/** A Certify request is a token (~1 KiB) and a CSR (~0.5 KiB); anything past this is refused by grpc-js (RESOURCE_EXHAUSTED) unread. */
export const MAX_CERTIFY_REQUEST_BYTES = 64 * 1024;
/** Metadata key naming the refusal reason (the same word as the metric label and docs/identity.md). */
export const REASON_METADATA_KEY = 'skein-identity-reason';

export type IdentityServerLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export class IdentityServer {
  readonly #service: IdentityService;
  readonly #log: IdentityServerLog;
  #server: grpc.Server | null = null;

  constructor(service: IdentityService, log: IdentityServerLog = () => {}) {
    this.#service = service;
    this.#log = log;
  }

  #certify: grpc.handleUnaryCall<CertifyRequest, CertifyResponse> = (call, callback) => {
    const peer = call.getPeer();
    this.#service.certify(call.request).then(
      (r) => {
        if (r.ok) return callback(null, r.value);
        const { reason, message } = r.error;
        const metadata = new grpc.Metadata();
        metadata.set(REASON_METADATA_KEY, reason);
        this.#log('info', 'certify refused', { reason, peer, identity: String(call.request.identity ?? '').slice(0, 256), message });
        callback({ code: IDENTITY_REJECTIONS[reason].status, details: `${IDENTITY_REJECTIONS[reason].code}: ${message}`, metadata });
      },
      (e: unknown) => {
        // certify() returns its failures as values; reaching this is a bug, answered without the stack.
        this.#log('error', 'certify threw', { error: (e as Error).message, peer });
        callback({ code: grpc.status.INTERNAL, details: 'internal error' });
      },
    );
  };

  async listen(address: string, port: number, credentials: grpc.ServerCredentials): Promise<number> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_CERTIFY_REQUEST_BYTES,
      'grpc.max_send_message_length': 1024 * 1024,
    });
    server.addService(loadIdentity().service, { Certify: this.#certify });
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${address.includes(':') ? `[${address}]` : address}:${port}`, credentials, (e, p) => (e ? reject(e) : resolve(p))),
    );
    this.#server = server;
    return bound;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    await shutdownGrpcServer(server);
  }
}
