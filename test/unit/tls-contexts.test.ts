// A listener's TLS contexts: the certificate chosen by SNI (exact, wildcard, default) and AEAD-only suites.
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestCert } from '../support/test-cert.ts';
import { AEAD_CIPHERS, ServerTlsContexts } from '../../proxy/listener/tls-contexts.ts';

const main = makeTestCert(['default.test']);
const api = makeTestCert(['api.test']);
const wild = makeTestCert(['*.apps.test']);
afterAll(() => [main, api, wild].forEach((c) => c.remove()));

describe('ServerTlsContexts', () => {
  it('chooses by SNI: exact name, then a one-label wildcard, else the default certificate; the callback never throws', () => {
    const c = new ServerTlsContexts({ certFile: main.certFile, keyFile: main.keyFile, alpn: ['http/1.1'], certificates: [api, wild] });
    expect(c.bySni).toBe(true);
    const apiCtx = c.select('api.test');
    expect(apiCtx).not.toBe(c.default);
    expect(c.select('API.TEST')).toBe(apiCtx);
    const wildCtx = c.select('x.apps.test');
    expect(wildCtx).not.toBe(c.default);
    expect(wildCtx).not.toBe(apiCtx);
    expect(c.select('a.b.apps.test')).toBe(c.default);
    expect(c.select('apps.test')).toBe(c.default);
    expect(c.select('other.test')).toBe(c.default);
    let got: unknown;
    c.sniCallback(undefined as unknown as string, (_e, ctx) => (got = ctx));
    expect(got).toBe(c.default);
  });

  it('a single certificate needs no SNI callback', () => {
    expect(new ServerTlsContexts({ certFile: main.certFile, keyFile: main.keyFile, alpn: ['h2'] }).bySni).toBe(false);
  });

  it('offers only AEAD suites', () => {
    for (const suite of AEAD_CIPHERS.split(':')) expect(suite).toMatch(/GCM|CHACHA20/);
    expect(tls.getCiphers().length).toBeGreaterThan(0);
  });
});
