// The precompiled config validator is current with the schema and answers exactly what ajv.compile() answers.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { proxyConfigSchema } from '../../api/config/proxy-config-schema.ts';
import { validateProxyConfigDocument } from '../../api/config/proxy-config-validator.generated.ts';
import { AJV_OPTIONS, VALIDATOR_FILE, validatorText } from '../../scripts/gen-config-validator.ts';

const route = { name: 'r', match: { path: { type: 'prefix', value: '/' } }, backends: [{ cluster: 'c' }] };
const listener = { name: 'l', port: 15001, direction: 'outbound', virtualHosts: [{ name: 'v', domains: ['*'], routes: [route] }] };
const cluster = { name: 'c', endpoints: [{ address: '127.0.0.1', port: 8080 }] };

const documents: unknown[] = [
  { listeners: [listener], clusters: [cluster] },
  { listeners: [], clusters: [] },
  null, [], 'listeners', 42, {},
  { listeners: [listener], clusters: [cluster], bogus: true, mode: 'gateway', drainTimeoutMs: -1, admin: { port: 'x', extra: 1 } },
  { listeners: [{ ...listener, port: 70000, direction: 'sideways', protocol: 'smtp' }], clusters: [{ ...cluster, endpoints: [{ address: 5 }] }] },
  { listeners: [{ ...listener, virtualHosts: [{ name: 'v', routes: [{ ...route, match: { path: { type: 'regex', value: 7 } }, backends: [] }] }] }] },
  { listeners: [{ name: 'x'.repeat(500) }], clusters: [{ name: 'c', loadBalancer: { policy: 'random' }, endpoints: 'none' }], version: 'v'.repeat(200) },
];

describe('precompiled config validator', () => {
  it('api/config/proxy-config-validator.generated.ts is current (run npm run gen:validator)', () => {
    expect(readFileSync(VALIDATOR_FILE, 'utf8')).toBe(validatorText());
  });

  it('gives the same verdict and the same errors as compiling the schema', () => {
    const compiled = new Ajv(AJV_OPTIONS).compile(proxyConfigSchema);
    let invalid = 0;
    for (const doc of documents) {
      const verdict = validateProxyConfigDocument(doc);
      expect(verdict, JSON.stringify(doc)).toBe(compiled(doc));
      expect(validateProxyConfigDocument.errors ?? null).toEqual(compiled.errors ?? null);
      if (!verdict) invalid++;
    }
    expect(invalid).toBeGreaterThanOrEqual(documents.length - 2);
  });
});
