// TypeScript shapes of the identity service (api/proto/identity.proto), the SPIFFE id format and the one loader both sides use.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';

export const IDENTITY_PROTO = join(import.meta.dirname, 'identity.proto');
/** Default port of the control plane's identity (Certify) gRPC service, over TLS. */
export const IDENTITY_PORT = 15012;
/** The audience a proxy's projected ServiceAccount token must carry. */
export const IDENTITY_TOKEN_AUDIENCE = 'skein.dev/identity';
/** Default trust domain of the mesh. */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export interface CertifyRequest {
  readonly identity: string;
  readonly token: string;
  readonly csrPem: string;
}

export interface CertifyResponse {
  readonly certificateChainPem: string;
  readonly trustBundlePem: string;
  readonly validUntil: string;
}

/** `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>`: the identity of a workload's ServiceAccount. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

const SPIFFE_RE = /^spiffe:\/\/([a-z0-9._-]+)\/ns\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/sa\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

/** The parts of a Skein workload SPIFFE id, or null when `id` is not exactly one (no query, fragment, port or extra path). */
export function parseSpiffeId(id: string): { trustDomain: string; namespace: string; serviceAccount: string } | null {
  const m = SPIFFE_RE.exec(id);
  return m ? { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[4]! } : null;
}

export interface IdentityDefinition {
  readonly service: grpc.ServiceDefinition;
  readonly Client: grpc.ServiceClientConstructor;
}

let loaded: IdentityDefinition | undefined;

/** Loads the proto once (lazily). */
export function loadIdentity(): IdentityDefinition {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
  const grpcJs = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const def = protoLoader.loadSync(IDENTITY_PROTO, { keepCase: false, defaults: true, longs: String });
  const pkg = grpcJs.loadPackageDefinition(def) as unknown as { skein: { identity: { v1: { Identity: grpc.ServiceClientConstructor } } } };
  const Client = pkg.skein.identity.v1.Identity;
  loaded = { service: Client.service, Client };
  return loaded;
}
