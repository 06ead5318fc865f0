// JSON Schema fragments of the mesh-identity config (mTLS toward clusters, inbound mTLS mode, authorization), used by
// proxy-config-schema.ts; the semantic checks (SPIFFE id syntax, cross-field rules) are in parse-mesh-identity-config.ts.

/** A SPIFFE id as text (the syntax check is parseSpiffeId's, in the parser, so every problem is reported with its path). */
export const spiffeIdSchema = { type: 'string', minLength: 10, maxLength: 512 } as const;

const mtlsMode = { enum: ['permissive', 'strict'] } as const;
const appPort = { type: 'integer', minimum: 1, maximum: 65535 } as const;

export const meshTlsSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { identity: spiffeIdSchema },
} as const;

export const inboundMtlsSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['mode'],
  properties: {
    mode: mtlsMode,
    ports: {
      type: 'array',
      maxItems: 1024,
      items: { type: 'object', additionalProperties: false, required: ['port', 'mode'], properties: { port: appPort, mode: mtlsMode } },
    },
  },
} as const;

const source = {
  type: 'object',
  additionalProperties: false,
  properties: {
    identities: { type: 'array', maxItems: 256, items: { type: 'string', minLength: 1, maxLength: 512 } },
    namespaces: { type: 'array', maxItems: 256, items: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' } },
    unauthenticated: { type: 'boolean' },
  },
} as const;

const target = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ports: { type: 'array', maxItems: 256, items: appPort },
    paths: {
      type: 'array',
      maxItems: 256,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'value'],
        properties: { type: { enum: ['exact', 'prefix'] }, value: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^/' } },
      },
    },
    methods: { type: 'array', maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 32, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" } },
  },
} as const;

export const authorizationSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    defaultAction: { enum: ['allow', 'deny'] },
    policies: {
      type: 'array',
      maxItems: 1024,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 253 },
          rules: {
            type: 'array',
            maxItems: 256,
            items: {
              type: 'object',
              additionalProperties: false,
              properties: { from: { type: 'array', maxItems: 64, items: source }, to: { type: 'array', maxItems: 64, items: target } },
            },
          },
        },
      },
    },
  },
} as const;
