// JSON Schema fragments of the edge policies (the input form), used by proxy-config-schema.ts for listeners and routes.

const positiveMs = { type: 'integer', minimum: 1, maximum: 86_400_000 } as const;
const headerName = { type: 'string', minLength: 1, maxLength: 256, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" } as const;
const cidrList = { type: 'array', maxItems: 1024, items: { type: 'string', minLength: 2, maxLength: 64 } } as const;
const url = { type: 'string', minLength: 8, maxLength: 2048, pattern: '^https?://' } as const;

export const ipFilterSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { allow: cidrList, deny: cidrList },
} as const;

export const corsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['allowOrigins'],
  properties: {
    allowOrigins: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 253 } },
    allowMethods: { type: 'array', maxItems: 32, items: { type: 'string', pattern: '^([A-Za-z]{1,32}|\\*)$' } },
    allowHeaders: { type: 'array', maxItems: 64, items: headerName },
    exposeHeaders: { type: 'array', maxItems: 64, items: headerName },
    maxAge: { type: 'integer', minimum: 0, maximum: 86_400 },
    allowCredentials: { type: 'boolean' },
  },
} as const;

export const jwtAuthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['jwks'],
  properties: {
    issuer: { type: 'string', minLength: 1, maxLength: 2048 },
    audiences: { type: 'array', maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 2048 } },
    jwks: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // The resolved model's discriminant; optional in a file (keys or url says which).
        type: { enum: ['inline', 'remote'] },
        // An inline JSON Web Key Set: the document itself ({keys: [...]}), public keys only.
        keys: { type: 'array', maxItems: 64, items: { type: 'object' } },
        url,
        refreshIntervalMs: positiveMs,
        fetchTimeoutMs: { type: 'integer', minimum: 1, maximum: 60_000 },
        retryIntervalMs: positiveMs,
        unknownKeyCooldownMs: positiveMs,
      },
    },
    algorithms: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { enum: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'] },
    },
    clockSkewSeconds: { type: 'integer', minimum: 0, maximum: 3600 },
    required: { type: 'boolean' },
    claimHeaders: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['claim', 'header'],
        properties: { claim: { type: 'string', minLength: 1, maxLength: 256 }, header: headerName },
      },
    },
    forwardToken: { type: 'boolean' },
  },
} as const;

export const extAuthzSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url,
    timeoutMs: { type: 'integer', minimum: 1, maximum: 60_000 },
    failOpen: { type: 'boolean' },
    includeHeaders: { type: 'array', maxItems: 64, items: headerName },
    upstreamHeaders: { type: 'array', maxItems: 64, items: headerName },
    maxResponseBytes: { type: 'integer', minimum: 0, maximum: 1_048_576 },
  },
} as const;

/** `listeners[].edge` and `routes[].edge`. */
export const edgePolicySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { ipFilter: ipFilterSchema, cors: corsSchema, jwt: jwtAuthSchema, extAuthz: extAuthzSchema },
} as const;
