// The Gateway API CRDs come from the Go module at the pinned release (through a fake `go` here: no network in unit
// tests), are cached, and are read from the cache the next time without Go.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayApiCrdDir, GATEWAY_API_MODULE_VERSION } from './gateway-api-crds.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeGo(root: string, calls: string): string {
  const module = join(root, 'mod', 'config', 'crd', 'standard');
  mkdirSync(module, { recursive: true });
  writeFileSync(join(module, 'gateway.networking.k8s.io_httproutes.yaml'), 'kind: CustomResourceDefinition\n');
  writeFileSync(join(module, 'README.md'), 'not a CRD');
  const experimental = join(root, 'mod', 'config', 'crd', 'experimental');
  mkdirSync(experimental, { recursive: true });
  writeFileSync(join(experimental, 'gateway.networking.k8s.io_xlistenersets.yaml'), 'kind: CustomResourceDefinition\n');
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'go'), `#!/bin/sh\necho "$@" >> ${calls}\necho '{"Path":"sigs.k8s.io/gateway-api","Dir":"${join(root, 'mod')}"}'\n`);
  chmodSync(join(bin, 'go'), 0o755);
  return bin;
}

describe('gatewayApiCrdDir', () => {
  it('downloads the pinned module once and serves the cache afterwards', async () => {
    const root = mkdtempSync(join(tmpdir(), 'skein-gwapi-test-'));
    dirs.push(root);
    const calls = join(root, 'calls');
    const env = { ...process.env, SKEIN_CACHE_DIR: join(root, 'cache'), PATH: `${fakeGo(root, calls)}:${process.env.PATH}` };
    const dir = await gatewayApiCrdDir(GATEWAY_API_MODULE_VERSION, env);
    expect(dir).toBe(join(root, 'cache', 'gateway-api', 'v1.6.3', 'standard'));
    const { readdirSync, readFileSync } = await import('node:fs');
    expect(readdirSync(dir)).toEqual(['gateway.networking.k8s.io_httproutes.yaml']);
    expect(readFileSync(calls, 'utf8')).toBe('mod download -json sigs.k8s.io/gateway-api@v1.6.3\n');
    await gatewayApiCrdDir(GATEWAY_API_MODULE_VERSION, { ...env, PATH: '/nonexistent' });
    expect(readFileSync(calls, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('the experimental channel has its own folder and cache', async () => {
    const root = mkdtempSync(join(tmpdir(), 'skein-gwapi-test-'));
    dirs.push(root);
    const env = { ...process.env, SKEIN_CACHE_DIR: join(root, 'cache'), PATH: `${fakeGo(root, join(root, 'calls'))}:${process.env.PATH}` };
    const dir = await gatewayApiCrdDir(GATEWAY_API_MODULE_VERSION, env, 'experimental');
    expect(dir).toBe(join(root, 'cache', 'gateway-api', 'v1.6.3', 'experimental'));
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir)).toEqual(['gateway.networking.k8s.io_xlistenersets.yaml']);
  });

  it('says what is missing when Go is not installed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'skein-gwapi-test-'));
    dirs.push(root);
    await expect(gatewayApiCrdDir(GATEWAY_API_MODULE_VERSION, { ...process.env, SKEIN_CACHE_DIR: root, PATH: '/nonexistent' })).rejects.toThrow(/install Go/);
  });
});
