// JSON Schema of the proxy config file (the input form: optional fields take the documented defaults).
// The policy fragments live in policy-config-schema.ts.
// Published as docs/proxy-config.schema.json by `npm run gen:schema`; a test checks the published copy is current.

import { authorizationSchema, inboundMtlsSchema, meshTlsSchema, spiffeIdSchema } from './mesh-identity-schema.ts';
import { edgePolicySchema } from './edge-policy-schema.ts';
import { circuitBreakerSchema, localRateLimitSchema, outlierDetectionSchema, routePolicyProperties } from './policy-config-schema.ts';
import { destinationMetadataSchema, telemetrySchema } from './telemetry-config-schema.ts';

const name = { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]*$' } as const;
const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const positiveMs = { type: 'integer', minimum: 1, maximum: 86_400_000 } as const;
const headerName = { type: 'string', minLength: 1, maxLength: 256, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" } as const;
const headerValue = { type: 'string', maxLength: 8192, pattern: '^[^\\r\\n\\u0000]*$' } as const;
/** A DNS name (RFC 1123), as a redirect or rewrite hostname. */
const hostnameValue = { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$' } as const;
/** A redirect's or rewrite's path change: an absolute path without query, fragment, control characters or spaces. */
const pathModifier = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'value'],
  properties: { type: { enum: ['full', 'prefix'] }, value: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^/[^?#\\s\\u0000-\\u001f]*$' } },
} as const;

const headerMutation = {
  type: 'object',
  additionalProperties: false,
  properties: {
    set: { type: 'object', propertyNames: headerName, additionalProperties: headerValue },
    add: { type: 'object', propertyNames: headerName, additionalProperties: headerValue },
    remove: { type: 'array', items: headerName },
  },
} as const;

export const proxyConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://skein.dev/schemas/proxy-config.json',
  title: 'Skein proxy configuration',
  type: 'object',
  additionalProperties: false,
  required: ['listeners'],
  properties: {
    version: { type: 'string', maxLength: 128 },
    mode: { enum: ['sidecar', 'ingress'] },
    node: { type: 'string', maxLength: 253 },
    drainTimeoutMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
    telemetry: telemetrySchema,
    admin: {
      type: 'object',
      additionalProperties: false,
      properties: { address: { type: 'string', minLength: 1 }, port },
    },
    listeners: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'port'],
        properties: {
          name,
          address: { type: 'string', minLength: 1 },
          port,
          direction: { enum: ['inbound', 'outbound', 'ingress'] },
          protocol: { enum: ['detect', 'http', 'tcp'] },
          tcpCluster: name,
          rateLimit: localRateLimitSchema,
          mtls: inboundMtlsSchema,
          authorization: authorizationSchema,
          xffTrustedHops: { type: 'integer', minimum: 0, maximum: 10 },
          edge: edgePolicySchema,
          tls: {
            type: 'object',
            additionalProperties: false,
            // A certificate is a pair of files, or a `secret` resource (the control plane's form: PEM held in memory);
            // parseProxyConfig checks that exactly one form is given.
            properties: {
              certFile: { type: 'string', minLength: 1 },
              keyFile: { type: 'string', minLength: 1 },
              secret: name,
              alpn: { type: 'array', items: { enum: ['h2', 'http/1.1'] }, minItems: 1, uniqueItems: true },
              certificates: {
                type: 'array',
                maxItems: 256,
                items: {
                  type: 'object',
                  additionalProperties: false,
                  properties: { certFile: { type: 'string', minLength: 1 }, keyFile: { type: 'string', minLength: 1 }, secret: name },
                },
              },
              listenerHostnames: {
                type: 'array',
                maxItems: 64,
                items: { type: 'string', minLength: 1, maxLength: 253, pattern: '^(\\*|(\\*\\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$' },
              },
              clientValidation: {
                type: ['object', 'null'],
                additionalProperties: false,
                required: ['mode'],
                properties: {
                  caFiles: { type: 'array', maxItems: 16, items: { type: 'string', minLength: 1 } },
                  caSecrets: { type: 'array', maxItems: 16, items: name },
                  mode: { enum: ['require', 'allow-insecure-fallback'] },
                },
              },
            },
          },
          virtualHosts: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'routes'],
              properties: {
                name,
                domains: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 260 }, minItems: 1 },
                routes: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['name'],
                    properties: {
                      name,
                      match: {
                        type: 'object',
                        additionalProperties: false,
                        properties: {
                          path: {
                            type: 'object',
                            additionalProperties: false,
                            required: ['type', 'value'],
                            properties: {
                              type: { enum: ['exact', 'prefix', 'regex'] },
                              value: { type: 'string', minLength: 1, maxLength: 1024 },
                            },
                          },
                          methods: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z]{1,32}$' } },
                          headers: {
                            type: 'array',
                            items: {
                              type: 'object',
                              additionalProperties: false,
                              required: ['name'],
                              properties: {
                                name: headerName,
                                type: { enum: ['exact', 'prefix', 'regex', 'present'] },
                                value: { type: 'string', maxLength: 1024 },
                                invert: { type: 'boolean' },
                              },
                            },
                          },
                          query: {
                            type: 'array',
                            items: {
                              type: 'object',
                              additionalProperties: false,
                              required: ['name'],
                              properties: {
                                name: { type: 'string', minLength: 1, maxLength: 256 },
                                type: { enum: ['exact', 'regex', 'present'] },
                                value: { type: 'string', maxLength: 1024 },
                              },
                            },
                          },
                        },
                      },
                      backends: {
                        type: 'array',
                        items: {
                          type: 'object',
                          additionalProperties: false,
                          required: ['cluster'],
                          properties: { cluster: name, weight: { type: 'integer', minimum: 0, maximum: 1_000_000 }, requestHeaders: headerMutation },
                        },
                      },
                      directResponse: {
                        type: 'object',
                        additionalProperties: false,
                        required: ['status'],
                        properties: {
                          status: { type: 'integer', minimum: 200, maximum: 599 },
                          body: { type: 'string', maxLength: 65536 },
                        },
                      },
                      requestHeaders: headerMutation,
                      responseHeaders: headerMutation,
                      timeoutMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
                      redirect: {
                        type: 'object',
                        additionalProperties: false,
                        properties: {
                          scheme: { enum: ['http', 'https'] },
                          hostname: hostnameValue,
                          port: { type: 'integer', minimum: 1, maximum: 65535 },
                          path: pathModifier,
                          statusCode: { enum: [301, 302, 303, 307, 308] },
                        },
                      },
                      rewrite: {
                        type: 'object',
                        additionalProperties: false,
                        properties: { hostname: hostnameValue, path: pathModifier },
                      },
                      edge: edgePolicySchema,
                      ...routePolicyProperties,
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    clusters: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name,
          type: { enum: ['static', 'original-destination'] },
          originalDestinationAddress: { type: 'string', minLength: 1, maxLength: 64 },
          protocol: { enum: ['http1', 'http2'] },
          http2Ports: { type: 'array', maxItems: 1024, uniqueItems: true, items: { type: 'integer', minimum: 1, maximum: 65535 } },
          loadBalancer: {
            type: 'object',
            additionalProperties: false,
            properties: {
              policy: { enum: ['p2c-ewma', 'round-robin', 'least-request', 'ring-hash'] },
              hashOn: {
                type: 'object',
                additionalProperties: false,
                required: ['type'],
                properties: {
                  type: { enum: ['header', 'cookie', 'source-ip'] },
                  name: { type: 'string', minLength: 1, maxLength: 256 },
                },
              },
            },
          },
          connectTimeoutMs: positiveMs,
          idleTimeoutMs: positiveMs,
          maxConnectionsPerEndpoint: { type: 'integer', minimum: 1, maximum: 100_000 },
          circuitBreaker: circuitBreakerSchema,
          outlierDetection: outlierDetectionSchema,
          meshTls: meshTlsSchema,
          upstreamTls: {
            type: ['object', 'null'],
            additionalProperties: false,
            required: ['sni'],
            properties: {
              sni: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$' },
              caFiles: { type: 'array', maxItems: 16, items: { type: 'string', minLength: 1 } },
              caSecrets: { type: 'array', maxItems: 16, items: name },
              systemCas: { type: 'boolean' },
              subjectAltNames: {
                type: 'array',
                maxItems: 16,
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['type', 'value'],
                  properties: { type: { enum: ['dns', 'uri'] }, value: { type: 'string', minLength: 1, maxLength: 2048 } },
                },
              },
              clientCertificate: {
                type: 'object',
                additionalProperties: false,
                properties: { certFile: { type: 'string', minLength: 1 }, keyFile: { type: 'string', minLength: 1 }, secret: name },
              },
              alpn: { type: 'array', items: { enum: ['h2', 'http/1.1'] }, minItems: 1, uniqueItems: true },
            },
          },
          destination: destinationMetadataSchema,
          endpoints: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['address', 'port'],
              properties: {
                address: { type: 'string', minLength: 1, maxLength: 253 },
                port: { type: 'integer', minimum: 1, maximum: 65535 },
                weight: { type: 'integer', minimum: 1, maximum: 1_000_000 },
                identity: { ...spiffeIdSchema, type: ['string', 'null'] },
                destination: destinationMetadataSchema,
              },
            },
          },
        },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxRequestHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1_048_576 },
        maxHeaderCount: { type: 'integer', minimum: 8, maximum: 10_000 },
        headersTimeoutMs: positiveMs,
        requestIdleTimeoutMs: positiveMs,
        connectionIdleTimeoutMs: positiveMs,
        http2MaxConcurrentStreams: { type: 'integer', minimum: 1, maximum: 100_000 },
        http2StreamWindowBytes: { type: 'integer', minimum: 65_535, maximum: 2_147_483_647 },
        http2ConnectionWindowBytes: { type: 'integer', minimum: 65_535, maximum: 2_147_483_647 },
        maxBufferedBytesPerConnection: { type: 'integer', minimum: 1024, maximum: 67_108_864 },
        maxConnectionsPerListener: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        protocolDetectTimeoutMs: positiveMs,
      },
    },
  },
} as const;
