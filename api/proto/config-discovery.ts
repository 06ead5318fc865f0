// TypeScript shapes of the config-discovery messages (api/proto/config-discovery.proto) and the one loader both sides use.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';

export const CONFIG_DISCOVERY_PROTO = join(import.meta.dirname, 'config-discovery.proto');
/** Default port of the control plane's config-discovery gRPC service. */
export const CONFIG_DISCOVERY_PORT = 15010;
/** Default port of the control plane's debug HTTP endpoint (/debug/proxies). */
export const CONTROL_PLANE_DEBUG_PORT = 15014;
/** Largest message a proxy may send the control plane (Hello with known versions, Nack with reasons). */
export const MAX_PROXY_MESSAGE_BYTES = 1 << 20;
/** Largest push a proxy accepts. */
export const MAX_PUSH_BYTES = 64 << 20;

export interface WireResource {
  readonly type: string;
  readonly name: string;
  readonly version: string;
  readonly body: Uint8Array;
}

export interface ResourceRef {
  readonly type: string;
  readonly name: string;
}

export interface Hello {
  readonly proxyId: string;
  readonly podName: string;
  readonly podNamespace: string;
  readonly podIp: string;
  readonly serviceAccount: string;
  readonly token: string;
  readonly mode: string;
  readonly knownVersions: Readonly<Record<string, string>>;
  readonly proxyVersion: string;
  /** Ingress mode: the Gateway served, `namespace/name`; empty or absent: every Gateway of Skein's classes and the Ingresses. */
  readonly gateway?: string;
}

export interface Push {
  readonly nonce: string;
  readonly version: string;
  readonly resources: readonly WireResource[];
  readonly removed: readonly ResourceRef[];
}

export interface NackReason {
  readonly type: string;
  readonly name: string;
  readonly path: string;
  readonly message: string;
}

export interface Ack {
  readonly nonce: string;
  readonly version: string;
}

export interface Nack {
  readonly nonce: string;
  readonly version: string;
  readonly reasons: readonly NackReason[];
}

export type ProxyMessage =
  | { readonly kind: 'hello'; readonly hello: Hello }
  | { readonly kind: 'ack'; readonly ack: Ack }
  | { readonly kind: 'nack'; readonly nack: Nack };

/** The key a resource is known by in Hello.known_versions and in snapshots. */
export function resourceKey(r: ResourceRef): string {
  return `${r.type}/${r.name}`;
}

export interface ConfigDiscoveryDefinition {
  /** The service definition to register on a grpc.Server. */
  readonly service: grpc.ServiceDefinition;
  /** The client constructor. */
  readonly Client: grpc.ServiceClientConstructor;
}

let loaded: ConfigDiscoveryDefinition | undefined;

/** Loads the proto once (lazily: a proxy without a control plane never pays for protobufjs). */
export function loadConfigDiscovery(): ConfigDiscoveryDefinition {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
  const grpcJs = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  // oneofs: the `kind` virtual field names which member is set; defaults: absent fields read as their zero value.
  const def = protoLoader.loadSync(CONFIG_DISCOVERY_PROTO, { keepCase: false, defaults: true, oneofs: true, longs: String });
  const pkg = grpcJs.loadPackageDefinition(def) as unknown as { skein: { discovery: { v1: { ConfigDiscovery: grpc.ServiceClientConstructor } } } };
  const Client = pkg.skein.discovery.v1.ConfigDiscovery;
  loaded = { service: Client.service, Client };
  return loaded;
}
